// signal.js: one session with a Meridian node over the signalling WebSocket
// (docs/protocol.md) and its two peer connections:
//   - publisher: carries what this browser sends; this side makes every offer;
//   - subscriber: carries everyone else's media; the node makes every offer.
// With one offerer per connection neither side ever has to resolve an offer collision.
// Server messages are passed on as events of their type; the session handles the
// negotiation ones (answer, offer, candidate) itself and then emits "tracks".

// Camera simulcast: three layers the node picks from for each viewer. The RIDs are the
// ones the node knows (q, h, f).
const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

// How long a connection may stay "disconnected" before this side restarts ICE. The node
// ends the whole session once a connection fails, so restart before that.
const RESTART_AFTER_MS = 1500;

export class Session {
  #ws = null;
  #handlers = new Map();
  #ended = false;
  #stream = new MediaStream(); // the msid stream of every published track
  #pub = null;
  #sub = null;
  // Each connection's description and candidate work runs in order on its own chain, so a
  // candidate is never applied against a description that is still being replaced.
  #chain = { publisher: Promise.resolve(), subscriber: Promise.resolve() };
  // Remote candidates that arrived before the connection had a remote description.
  #early = { publisher: [], subscriber: [] };
  // Local candidates gathered before the first description of their connection was sent
  // (the node refuses candidates it cannot place yet); null once that description is sent.
  #held = { publisher: [], subscriber: [] };
  #offering = false; // a publisher offer awaits its answer
  #again = false; // publish changes came while it did: offer again after the answer
  #restart = false; // the next publisher offer restarts ICE
  #mids = {}; // subscriber mid -> the node's track id (from its latest offer)

  constructor(url) {
    this.url = url;
  }

  /** on adds a handler for an event: a server message type, "tracks", "connection" or "disconnected". */
  on(type, fn) {
    if (!this.#handlers.has(type)) this.#handlers.set(type, []);
    this.#handlers.get(type).push(fn);
    return this;
  }

  #emit(type, data) {
    for (const fn of this.#handlers.get(type) ?? []) fn(data);
  }

  /** connect opens the WebSocket and joins with token. */
  connect(token) {
    const ws = new WebSocket(this.url);
    this.#ws = ws;
    ws.addEventListener('open', () => this.send({ type: 'join', token }));
    ws.addEventListener('message', (ev) => this.#receive(ev.data));
    ws.addEventListener('close', (ev) => {
      const unexpected = !this.#ended;
      this.close();
      if (unexpected) this.#emit('disconnected', { code: ev.code, reason: ev.reason });
    });
  }

  send(msg) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(msg));
  }

  #receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    switch (msg.type) {
      case 'answer':
        this.#queue('publisher', () => this.#onAnswer(msg.sdp));
        return;
      case 'offer':
        this.#queue('subscriber', () => this.#onOffer(msg));
        return;
      case 'candidate':
        if (msg.target === 'publisher' || msg.target === 'subscriber') {
          this.#queue(msg.target, () => this.#onCandidate(msg.target, msg.candidate));
        }
        return;
      case 'closed':
        this.#ended = true; // the socket closes next: that is the end, not a drop
        break;
      case 'error':
        if (msg.code === 'bad_sdp') this.#offering = false; // no answer is coming
        break;
    }
    this.#emit(msg.type, msg);
  }

  #queue(target, step) {
    this.#chain[target] = this.#chain[target].then(step).catch((err) => {
      if (!this.#ended) console.warn(`meridian: ${target} negotiation:`, err);
    });
  }

  /**
   * publish sends tracks: [{track, source, simulcast}] with source "microphone", "camera",
   * "screen" or "screen_audio". It declares their sources before the offer that adds
   * them (the node fixes a track's source when its media first arrives) and resolves to
   * their transceivers, for unpublish.
   */
  async publish(tracks) {
    this.#pub ??= this.#peer('publisher');
    const transceivers = tracks.map((t) => this.#addTransceiver(t));
    if (tracks.length) {
      this.send({ type: 'sources', sources: Object.fromEntries(tracks.map((t) => [t.track.id, t.source])) });
    }
    await this.#negotiate();
    return transceivers;
  }

  #addTransceiver({ track, simulcast }) {
    const init = { direction: 'sendonly', streams: [this.#stream] };
    if (simulcast) {
      try {
        return this.#pub.addTransceiver(track, { ...init, sendEncodings: SIMULCAST });
      } catch {
        // This browser cannot send these layers: send one.
      }
    }
    return this.#pub.addTransceiver(track, init);
  }

  /** unpublish stops sending on transceivers returned by publish. */
  async unpublish(transceivers) {
    if (!this.#pub || this.#pub.signalingState === 'closed') return;
    for (const tr of transceivers) this.#pub.removeTrack(tr.sender);
    await this.#negotiate();
  }

  async #negotiate() {
    if (!this.#pub) return;
    if (this.#offering) {
      this.#again = true;
      return;
    }
    this.#offering = true;
    this.#again = false;
    const iceRestart = this.#restart;
    this.#restart = false;
    const offer = await this.#pub.createOffer({ iceRestart });
    await this.#pub.setLocalDescription(offer);
    this.send({ type: 'offer', target: 'publisher', sdp: this.#pub.localDescription.sdp });
    this.#release('publisher');
  }

  async #onAnswer(sdp) {
    if (!this.#pub) return;
    await this.#pub.setRemoteDescription({ type: 'answer', sdp });
    await this.#applyEarly('publisher');
    this.#offering = false;
    if (this.#again || this.#restart) await this.#negotiate();
  }

  async #onOffer({ sdp, tracks }) {
    this.#sub ??= this.#peer('subscriber');
    this.#mids = tracks ?? {};
    await this.#sub.setRemoteDescription({ type: 'offer', sdp });
    await this.#applyEarly('subscriber');
    await this.#sub.setLocalDescription(await this.#sub.createAnswer());
    this.send({ type: 'answer', target: 'subscriber', sdp: this.#sub.localDescription.sdp });
    this.#release('subscriber');
    this.#emit('tracks', this.remoteTracks());
  }

  async #onCandidate(target, candidate) {
    const pc = target === 'publisher' ? this.#pub : this.#sub;
    if (!pc?.remoteDescription) {
      this.#early[target].push(candidate);
      return;
    }
    await this.#addCandidate(pc, candidate);
  }

  async #applyEarly(target) {
    const pc = target === 'publisher' ? this.#pub : this.#sub;
    for (const candidate of this.#early[target].splice(0)) await this.#addCandidate(pc, candidate);
  }

  // A candidate of an older ICE generation fails to apply; that is harmless.
  async #addCandidate(pc, candidate) {
    try {
      await pc.addIceCandidate(candidate);
    } catch (err) {
      console.debug('meridian: candidate not applied:', err);
    }
  }

  #release(target) {
    const held = this.#held[target];
    if (!held) return;
    this.#held[target] = null;
    for (const candidate of held) this.send({ type: 'candidate', target, candidate });
  }

  #peer(target) {
    const pc = new RTCPeerConnection();
    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (!candidate) return;
      const init = candidate.toJSON();
      if (this.#held[target]) this.#held[target].push(init);
      else this.send({ type: 'candidate', target, candidate: init });
    });
    pc.addEventListener('connectionstatechange', () => this.#onConnectionState(target, pc));
    return pc;
  }

  #onConnectionState(target, pc) {
    this.#emit('connection', { target, state: pc.connectionState });
    if (pc.connectionState !== 'disconnected') return;
    setTimeout(() => {
      if (this.#ended || pc.connectionState !== 'disconnected') return;
      if (target === 'subscriber') {
        this.send({ type: 'restartIce' });
        return;
      }
      this.#restart = true;
      this.#negotiate().catch((err) => console.warn('meridian: ICE restart:', err));
    }, RESTART_AFTER_MS);
  }

  /**
   * remoteTracks maps the node's track ids to the tracks this browser receives, by the
   * mid -> track id table of the latest subscriber offer. A transceiver may carry another
   * track after a renegotiation, so this is read afresh after each offer.
   */
  remoteTracks() {
    const tracks = new Map();
    for (const tr of this.#sub?.getTransceivers() ?? []) {
      const id = tr.mid == null ? undefined : this.#mids[tr.mid];
      if (id && tr.receiver.track && tr.currentDirection !== 'stopped') tracks.set(id, tr.receiver.track);
    }
    return tracks;
  }

  /** peers are the open peer connections, for statistics. */
  get peers() {
    return { publisher: this.#pub, subscriber: this.#sub };
  }

  /** leave tells the node this participant leaves, then closes everything. */
  leave() {
    this.send({ type: 'leave' });
    this.close();
  }

  /** close ends the session without a word to the node (it notices the socket closing). */
  close() {
    this.#ended = true;
    if (this.#ws && this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(1000);
    this.#pub?.close();
    this.#sub?.close();
  }
}
