// media.js: the local camera and microphone: opening them with the devices the person
// chose last time, listing devices, switching one, and a microphone level meter.

const PREFS_KEY = 'meridian.media';

/** prefs are the remembered choices: {cameraId, micId, micOn, camOn}. */
export function loadPrefs() {
  try {
    return { micOn: true, camOn: true, ...JSON.parse(localStorage.getItem(PREFS_KEY) || '{}') };
  } catch {
    return { micOn: true, camOn: true };
  }
}

export function savePrefs(prefs) {
  localStorage.setItem(PREFS_KEY, JSON.stringify({ ...loadPrefs(), ...prefs }));
}

function constraints(kind, deviceId) {
  const device = deviceId ? { deviceId: { exact: deviceId } } : {};
  return kind === 'audio'
    ? { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...device }
    : { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 }, ...device };
}

// getTrack opens one device, or the default one when the chosen device is gone.
async function getTrack(kind, deviceId) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints(kind, deviceId) });
    return stream.getTracks()[0];
  } catch (err) {
    if (deviceId && (err.name === 'OverconstrainedError' || err.name === 'NotFoundError')) return getTrack(kind, '');
    throw err;
  }
}

/**
 * openMedia opens the microphone and camera. Either may fail alone (no camera, camera in
 * use); it resolves to {stream, error} with whatever could be opened and the first
 * failure, so that a person without a camera can still join.
 */
export async function openMedia({ cameraId = '', micId = '' } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return { stream: new MediaStream(), error: { name: 'NotSupportedError' } };
  }
  try { // both at once: one permission prompt
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: constraints('audio', micId), video: constraints('video', cameraId),
    });
    return { stream, error: null };
  } catch (err) {
    if (err.name === 'NotAllowedError' || err.name === 'SecurityError') return { stream: new MediaStream(), error: err };
  }
  // One of the two is missing, busy or gone: open each alone and keep what works.
  const stream = new MediaStream();
  let error = null;
  for (const [kind, id] of [['audio', micId], ['video', cameraId]]) {
    try {
      stream.addTrack(await getTrack(kind, id));
    } catch (err) {
      error ??= err;
    }
  }
  return { stream, error };
}

/** mediaProblem says in words why the camera or microphone could not be opened. */
export function mediaProblem(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Your browser blocks the camera and microphone for this site. Allow them in the site settings (next to the address bar) and reload, or join without them.';
    case 'NotFoundError':
      return 'We found no camera or microphone. Plug one in and reload, or join without it: you can still see, hear and chat.';
    case 'NotReadableError':
      return 'Your camera or microphone is in use by another app. Close that app and reload, or join without it.';
    case 'NotSupportedError':
      return 'This browser cannot use a camera or microphone here. Use a current Chrome, Edge or Firefox over https.';
    default:
      return 'The camera or microphone could not be started. Reload to try again, or join without them.';
  }
}

/** listDevices resolves to {cameras, mics}: [{deviceId, label}] each. */
export async function listDevices() {
  const devices = await navigator.mediaDevices?.enumerateDevices?.() ?? [];
  const pick = (kind, noun) => devices.filter((d) => d.kind === kind && d.deviceId)
    .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${noun} ${i + 1}` }));
  return { cameras: pick('videoinput', 'Camera'), mics: pick('audioinput', 'Microphone') };
}

/**
 * switchDevice opens deviceId for kind ("audio" or "video") in place of the stream's
 * current track of that kind, keeping its enabled state, and resolves to {old, track}.
 * The caller stops the old track once nothing sends it any more.
 */
export async function switchDevice(stream, kind, deviceId) {
  const old = stream.getTracks().find((t) => t.kind === kind) ?? null;
  const track = await getTrack(kind, deviceId);
  if (old) {
    track.enabled = old.enabled;
    stream.removeTrack(old);
  }
  stream.addTrack(track);
  return { old, track };
}

/** stopAll stops every track of a stream (the camera light goes out). */
export function stopAll(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/**
 * meter shows the loudness of an audio track as the width of bar (a CSS transform), so a
 * person can see that their microphone works. It returns a function that stops it.
 */
export function meter(track, bar) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!track || !Context) return () => {};
  const ctx = new Context();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let frame = 0;
  const draw = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const level = track.enabled ? Math.min(1, Math.sqrt(sum / samples.length) * 4) : 0;
    bar.style.transform = `scaleX(${level.toFixed(3)})`;
    frame = requestAnimationFrame(draw);
  };
  draw();
  // Browsers start an AudioContext suspended until the page is clicked.
  const resume = () => ctx.resume();
  document.addEventListener('pointerdown', resume, { once: true });
  return () => {
    cancelAnimationFrame(frame);
    document.removeEventListener('pointerdown', resume);
    if (ctx.state !== 'closed') ctx.close();
  };
}
