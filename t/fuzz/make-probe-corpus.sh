#!/bin/bash
# Regenerates the seeds of the probe fuzzer (t/fuzz/probe.c) in
# t/fuzz/corpus/probe (or the folder given): tiny media files of the
# allowed containers from ffmpeg's lavfi sources (0.2 s of a 64x64 test
# pattern and a sine), files the limits refuse (a declared frame of 65520
# pixels, 1000 fps, 17 streams), and references the allow-list refuses
# (HLS, ffconcat, DASH, SDP naming local paths and URLs).  Each stays under
# 8 KB.  Needs the ffmpeg program and perl; the bytes depend on the ffmpeg
# and codec library versions, not on the run (bitexact, no metadata).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/t/fuzz/corpus/probe}
mkdir -p "$out"
cd "$out"

V="testsrc=size=64x64:rate=10:duration=0.2"
A="sine=frequency=440:duration=0.2"

ff() {
    ffmpeg -nostdin -hide_banner -loglevel error -y "$@"
}

# video and audio: $1 the seed, $2 the sample rate, then codec options
av() {
    local name=$1 rate=$2
    shift 2
    ff -f lavfi -i "$V" -f lavfi -i "$A:sample_rate=$rate" \
       -map 0:v -map 1:a -ac 1 -map_metadata -1 -fflags +bitexact \
       -flags:v +bitexact -flags:a +bitexact "$@" "$name"
}

# audio only
a() {
    local name=$1 rate=$2
    shift 2
    ff -f lavfi -i "$A:sample_rate=$rate" -ac 1 -map_metadata -1 \
       -fflags +bitexact -flags:a +bitexact "$@" "$name"
}

av h264-aac.mp4       16000 -c:v libx264 -preset ultrafast -crf 45 -c:a aac -b:a 16k
av mpeg4-aac.mov      16000 -c:v mpeg4 -q:v 31 -c:a aac -b:a 16k
av h264-opus.mkv      48000 -c:v libx264 -preset ultrafast -crf 45 -c:a libopus -b:a 8k
av vp9-opus.webm      48000 -c:v libvpx-vp9 -deadline realtime -b:v 20k -c:a libopus -b:a 8k
av vp8-vorbis.webm    16000 -c:v libvpx -deadline realtime -b:v 20k -c:a libvorbis
av mpeg2-mp2.ts       16000 -c:v mpeg2video -q:v 31 -c:a mp2 -b:a 32k
av mpeg2-mp2.mpg      16000 -c:v mpeg2video -q:v 31 -c:a mp2 -b:a 32k -f mpeg
av mpeg4-mp3.avi      16000 -c:v mpeg4 -q:v 31 -c:a libmp3lame -b:a 8k \
                      -reserve_index_space 64
av flv1-mp3.flv       11025 -c:v flv -q:v 31 -c:a libmp3lame -b:a 8k
av wmv2-wmav2.asf     16000 -c:v wmv2 -q:v 31 -c:a wmav2 -b:a 24k
a  pcm.wav            8000  -c:a pcm_s16le -t 0.1
a  pcm.w64            8000  -c:a pcm_s16le -t 0.1 -f w64
a  pcm.aiff           8000  -c:a pcm_s16be -t 0.1
a  pcm.caf            8000  -c:a pcm_s16le -t 0.1
a  audio.flac         8000  -c:a flac -metadata_header_padding 0
a  audio.mp3          8000  -c:a libmp3lame -b:a 8k
a  vorbis.ogg         8000  -c:a libvorbis
a  opus.ogg           48000 -c:a libopus -b:a 8k
a  audio.aac          16000 -c:a aac -b:a 16k -f adts
a  audio.ac3          32000 -c:a ac3 -b:a 32k
a  audio.eac3         32000 -c:a eac3 -b:a 32k

# MXF's partitions and fill: one frame of video alone stays under 8 KB
ff -f lavfi -i "testsrc=size=64x64:rate=25:duration=0.04" -map_metadata -1 \
   -fflags +bitexact -flags:v +bitexact -c:v mpeg2video -q:v 31 -f mxf \
   mpeg2.mxf

# the limits: a frame declared 65520 wide (PixelWidth 256 patched), a rate
# above max_frame_rate, more streams than max_streams
ff -f lavfi -i "testsrc=size=256x8:rate=10:duration=0.1" -map_metadata -1 \
   -fflags +bitexact -flags:v +bitexact -c:v rawvideo -pix_fmt gray \
   wide.mkv
perl -0777 -i -pe '$n = s/\xb0\x82\x01\x00/\xb0\x82\xff\xf0/g;
                   $n == 1 or die "PixelWidth found $n times\n"' wide.mkv
for f in fast.avi fast.mkv; do
    # Matroska leaves avg_frame_rate unset here (r_frame_rate is 1000)
    ff -f lavfi -i "testsrc=size=8x8:rate=1000:duration=0.01" \
       -map_metadata -1 -fflags +bitexact -flags:v +bitexact -c:v rawvideo \
       -pix_fmt gray $([ $f = fast.avi ] && echo -reserve_index_space 64) $f
done
ff -f lavfi -i "$A:sample_rate=8000:duration=0.01" \
   $(for i in $(seq 17); do echo -map 0:a; done) -map_metadata -1 \
   -fflags +bitexact -flags:a +bitexact -c:a pcm_s16le streams.mkv

# references: the allow-list refuses the demuxers, io_open what they name
cat > hls.m3u8 <<'EOF'
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:1.0,
/etc/passwd
#EXTINF:1.0,
http://169.254.169.254/latest/meta-data/
#EXTINF:1.0,
file:///proc/self/environ
#EXT-X-ENDLIST
EOF

cat > list.ffconcat <<'EOF'
ffconcat version 1.0
file /etc/passwd
file http://169.254.169.254/latest/meta-data/
file 'subfile,,start,0,end,0,,:/proc/self/environ'
EOF

cat > manifest.mpd <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"
     mediaPresentationDuration="PT1S" minBufferTime="PT1S"
     profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <BaseURL>http://169.254.169.254/</BaseURL>
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <Representation id="1" bandwidth="1000" width="64" height="64">
        <BaseURL>file:///etc/passwd</BaseURL>
        <SegmentBase indexRange="0-100"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
EOF

cat > stream.sdp <<'EOF'
v=0
o=- 0 0 IN IP4 127.0.0.1
s=probe
c=IN IP4 127.0.0.1
t=0 0
m=video 5004 RTP/AVP 96
a=rtpmap:96 H264/90000
EOF

ls -l "$out" | awk 'NR > 1 { n++; t += $5; if ($5 > 8192) big = big " " $9 }
    END { printf "%d seeds, %d bytes\n", n, t;
          if (big != "") { print "over 8 KB:" big; exit 1 } }'
