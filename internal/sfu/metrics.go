package sfu

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the SFU's Prometheus instruments.
type Metrics struct {
	Rooms, Participants, Tracks prometheus.Gauge
	PacketsIn, PacketsOut       prometheus.Counter
	BytesIn, BytesOut           prometheus.Counter
	NACKs, Retransmits, PLIs    prometheus.Counter
	ForwardLatency              prometheus.Histogram

	// Probes of subscribers' links for a higher simulcast layer (see layerProbe), by result,
	// and the packets of padding they were sent.
	Probes         *prometheus.CounterVec
	PaddingPackets prometheus.Counter

	// The media sockets' writers: datagrams sent, system calls that sent them (their ratio
	// is the mean batch), and datagrams dropped, by reason (see dropQueueFull).
	UDPPacketsOut, UDPBatches prometheus.Counter
	UDPDropped                *prometheus.CounterVec

	// SubscriberSendPath counts subscriber connections by how the SFU sends them RTP:
	// "direct" (its own SRTP, see startDirectPath) or "pion" (pion's SRTP session).
	SubscriberSendPath *prometheus.CounterVec
	// SubscriberRTCP counts RTCP packets from subscribers by the path that took them:
	// "direct" (off the media socket) or "pion" (pion's SRTCP session).
	SubscriberRTCP                     *prometheus.CounterVec
	rtcpDirect, rtcpPion, rtcpRejected prometheus.Counter
}

// NewMetrics creates the instruments and registers them with reg, if not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Rooms:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_sfu_rooms", Help: "Live rooms on this node."}),
		Participants:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_sfu_participants", Help: "Participants connected to this node."}),
		Tracks:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_sfu_tracks", Help: "Published tracks on this node."}),
		PacketsIn:     prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_packets_in_total", Help: "RTP packets received from publishers."}),
		PacketsOut:    prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_packets_out_total", Help: "RTP packets forwarded to subscribers."}),
		BytesIn:       prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_bytes_in_total", Help: "RTP payload bytes received from publishers."}),
		BytesOut:      prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_bytes_out_total", Help: "RTP payload bytes forwarded to subscribers."}),
		NACKs:         prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_nacks_total", Help: "NACK packets received from subscribers."}),
		Retransmits:   prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_retransmits_total", Help: "Packets resent to subscribers in answer to their NACKs."}),
		PLIs:          prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_plis_total", Help: "Keyframe requests sent to publishers."}),
		UDPPacketsOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_udp_packets_out_total", Help: "UDP datagrams sent on the media sockets (RTP, RTCP, DTLS, STUN)."}),
		UDPBatches:    prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_udp_send_batches_total", Help: "System calls (sendmmsg) that sent media socket datagrams."}),
		UDPDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sfu_udp_send_dropped_total",
			Help: "Media socket datagrams dropped, by reason: queue_full (the writer fell behind), send_failed (the kernel refused one) or closed.",
		}, []string{"reason"}),
		SubscriberSendPath: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sfu_subscriber_connections_total",
			Help: "Subscriber connections established, by send path: direct (the SFU's own SRTP) or pion.",
		}, []string{"path"}),
		SubscriberRTCP: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sfu_subscriber_rtcp_packets_total",
			Help: "Compound RTCP packets received from subscribers, by path: direct (the SFU's own SRTCP), pion, or rejected (by the direct path: forged, replayed or malformed).",
		}, []string{"path"}),
		Probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sfu_probes_total",
			Help: "Probes of a subscriber's link for a higher simulcast layer, by result: succeeded (the layer is sent), failed (congestion; the subscriber keeps its layer) or inconclusive (too little padding could be sent). Probes ended early (the track closed, or no longer needs one) are not counted.",
		}, []string{"result"}),
		PaddingPackets: prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_sfu_padding_packets_total", Help: "Packets of padding sent to subscribers to probe their links."}),
		ForwardLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meridian_sfu_forward_seconds",
			Help:    "Time from reading a packet off a publisher to handing it to every subscriber.",
			Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3},
		}),
	}
	m.rtcpDirect = m.SubscriberRTCP.WithLabelValues("direct")
	m.rtcpPion = m.SubscriberRTCP.WithLabelValues("pion")
	m.rtcpRejected = m.SubscriberRTCP.WithLabelValues("rejected")
	if reg != nil {
		reg.MustRegister(m.Rooms, m.Participants, m.Tracks, m.PacketsIn, m.PacketsOut, m.BytesIn,
			m.BytesOut, m.NACKs, m.Retransmits, m.PLIs, m.ForwardLatency, m.UDPPacketsOut, m.UDPBatches, m.UDPDropped,
			m.SubscriberSendPath, m.SubscriberRTCP, m.Probes, m.PaddingPackets)
	}
	return m
}
