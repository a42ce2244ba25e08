// quality.js: the connection quality indicator. Every few seconds it reads the round-trip
// time and packet loss from getStats: on the subscriber connection (what this person
// receives), or the publisher one while nobody else sends anything.

import { h } from './dom.js';

const INTERVAL_MS = 2000;

const LEVELS = {
  unknown: 'Connecting',
  good: 'Good',
  fair: 'Fair',
  poor: 'Poor',
};

export class QualityIndicator {
  #timer = 0;
  #last = new WeakMap(); // peer connection -> {lost, received} of the previous sample
  #label = h('span', { class: 'quality-label' });

  constructor() {
    this.el = h('div', { class: 'quality', 'data-testid': 'quality', role: 'img' },
      h('span', { class: 'bars', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), this.#label);
    this.#show('unknown');
  }

  /** start samples the peer connections that peers() returns ({publisher, subscriber}). */
  start(peers) {
    this.stop();
    this.#timer = setInterval(async () => {
      const { publisher, subscriber } = peers();
      const pc = subscriber?.connectionState === 'connected' ? subscriber : publisher;
      if (pc?.connectionState !== 'connected') {
        this.#show(pc?.connectionState === 'disconnected' ? 'poor' : 'unknown');
        return;
      }
      const sample = await this.#sample(pc).catch(() => null);
      if (sample) this.#show(level(sample), sample);
    }, INTERVAL_MS);
  }

  stop() {
    clearInterval(this.#timer);
  }

  async #sample(pc) {
    const stats = await pc.getStats();
    let pair = null;
    let lost = 0;
    let received = 0;
    let fraction = 0; // loss the node reports of what we send, 0 to 1
    const pairs = [];
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      if (s.type === 'candidate-pair') pairs.push(s);
      if (s.type === 'inbound-rtp') {
        lost += Math.max(0, s.packetsLost ?? 0);
        received += s.packetsReceived ?? 0;
      }
      if (s.type === 'remote-inbound-rtp') fraction = Math.max(fraction, s.fractionLost ?? 0);
    });
    // Firefox has no transport stats: take its selected (or nominated) pair.
    pair ??= pairs.find((p) => p.selected) ?? pairs.find((p) => p.nominated && p.state === 'succeeded');
    const rtt = pair?.currentRoundTripTime ?? (pair?.responsesReceived ? pair.totalRoundTripTime / pair.responsesReceived : null);
    const prev = this.#last.get(pc) ?? { lost: 0, received: 0 };
    this.#last.set(pc, { lost, received });
    const dLost = lost - prev.lost;
    const dTotal = dLost + (received - prev.received);
    return { rtt, loss: dTotal > 0 ? Math.max(0, dLost) / dTotal : fraction };
  }

  #show(lvl, sample) {
    this.el.dataset.level = lvl;
    this.#label.textContent = LEVELS[lvl];
    let detail = '';
    if (sample) {
      const rtt = sample.rtt == null ? 'unknown' : `${Math.round(sample.rtt * 1000)} ms`;
      detail = ` (round trip ${rtt}, packet loss ${(sample.loss * 100).toFixed(1)}%)`;
    }
    const text = `Connection: ${LEVELS[lvl].toLowerCase()}${detail}`;
    this.el.setAttribute('aria-label', text);
    this.el.title = text;
  }
}

function level({ rtt, loss }) {
  const ms = (rtt ?? 0) * 1000;
  if (ms > 400 || loss > 0.08) return 'poor';
  if (ms > 150 || loss > 0.02) return 'fair';
  return 'good';
}
