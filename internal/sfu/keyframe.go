package sfu

import "strings"

// isKeyframe reports whether an RTP payload starts or carries a decodable keyframe. The SFU
// never decodes media; it only needs to know where a subscriber may safely start or switch
// layers, which the payload descriptor of each codec tells without decoding.
func isKeyframe(mimeType string, payload []byte) bool {
	switch {
	case strings.EqualFold(mimeType, "video/VP8"):
		return isVP8Keyframe(payload)
	case strings.EqualFold(mimeType, "video/H264"):
		return isH264Keyframe(payload)
	case strings.EqualFold(mimeType, "video/VP9"):
		return isVP9Keyframe(payload)
	case strings.EqualFold(mimeType, "video/AV1"):
		return isAV1Keyframe(payload)
	}
	return false
}

// isVP8Keyframe parses the VP8 payload descriptor (RFC 7741 section 4.2) and checks the
// inverse key frame flag of the first partition of a frame.
func isVP8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x := p[0]&0x80 != 0
	start := p[0]&0x10 != 0
	pid := p[0] & 0x07
	if !start || pid != 0 {
		return false
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/KEYIDX byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// isH264Keyframe looks for an IDR slice or an SPS in a single NAL unit, a STAP-A aggregate
// or the first fragment of an FU-A (RFC 6184).
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch nal := p[0] & 0x1f; nal {
	case 5, 7:
		return true
	case 24: // STAP-A
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if i >= len(p) {
				return false
			}
			if t := p[i] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += size
		}
	case 28: // FU-A
		if len(p) < 2 {
			return false
		}
		t := p[1] & 0x1f
		return p[1]&0x80 != 0 && (t == 5 || t == 7)
	}
	return false
}

// isVP9Keyframe reads the VP9 payload descriptor: a frame that is not inter-predicted (P=0)
// and begins a frame (B=1) in the base spatial layer.
func isVP9Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	interPicture := p[0]&0x40 != 0
	begin := p[0]&0x08 != 0
	if interPicture || !begin {
		return false
	}
	if p[0]&0x20 != 0 { // L: layer indices present
		i := 1
		if p[0]&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if len(p) <= i {
			return false
		}
		return (p[i]>>1)&0x07 == 0 // spatial id 0
	}
	return true
}

// isAV1Keyframe checks the aggregation header's N bit, set on the first packet of a coded
// video sequence, which an encoder emits with every keyframe.
func isAV1Keyframe(p []byte) bool {
	return len(p) > 0 && p[0]&0x08 != 0
}
