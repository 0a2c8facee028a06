#!/bin/sh
# The baseline of bench/transcode.pl: the ffmpeg program rendering the same
# ladder as transcoderd with the same encoder settings, in one process.
#   bench/ffmpeg-ladder.sh SOURCE OUTDIR [PRESET]
set -e
src=$1 out=$2 preset=${3:-veryfast}
mkdir -p "$out"
exec ffmpeg -hide_banner -loglevel error -y -i "$src" \
  -filter_complex "[0:v]fps=25,split=4[a][b][c][d];[a]scale=1920:1080[v0];[b]scale=1280:720[v1];[c]scale=854:480[v2];[d]scale=640:360[v3]" \
  -map "[v0]" -map "[v1]" -map "[v2]" -map "[v3]" -map 0:a \
  -c:v libx264 -preset "$preset" -profile:v high -level:v 4.2 -pix_fmt yuv420p \
  -x264-params scenecut=0:open-gop=0:8x8dct=1 -sc_threshold 0 -g 50 -keyint_min 50 \
  -force_key_frames "expr:gte(t,n_forced*2)" \
  -b:v:0 6000k -maxrate:v:0 9000k -bufsize:v:0 12000k \
  -b:v:1 3000k -maxrate:v:1 4500k -bufsize:v:1 6000k \
  -b:v:2 1200k -maxrate:v:2 1800k -bufsize:v:2 2400k \
  -b:v:3 600k -maxrate:v:3 900k -bufsize:v:3 1200k \
  -c:a aac -b:a 128k -ar 48000 -ac 2 \
  -f hls -hls_time 6 -hls_playlist_type vod \
  -hls_segment_filename "$out/%v/segment_%03d.ts" \
  -var_stream_map "v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud v:3,agroup:aud a:0,agroup:aud" \
  -master_pl_name index.m3u8 "$out/%v/index.m3u8"
