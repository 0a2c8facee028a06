package Mam::Media;
# Test media made with FFmpeg's lavfi sources (never downloaded), and
# readings of the output with ffprobe.
use strict;
use warnings;
use JSON::PP;
use Exporter 'import';

our @EXPORT_OK = qw(make_media make_frame_counter ffprobe keyframes playlist set_rotation);

# make_media($path, seconds => 4, size => '640x360', rate => 25,
#            audio => 1, video => 1, vf => '...', extra => [...])
sub make_media {
    my ($path, %o) = @_;
    my $secs = $o{seconds} // 4;
    my @cmd = ('ffmpeg', '-hide_banner', '-loglevel', 'error', '-y');
    if ($o{video} // 1) {
        push @cmd, '-f', 'lavfi', '-i',
            sprintf('testsrc2=size=%s:rate=%s', $o{size} // '640x360', $o{rate} // 25);
    }
    if ($o{audio} // 1) {
        push @cmd, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100';
    }
    push @cmd, '-t', $secs;
    push @cmd, '-vf', $o{vf} if $o{vf};
    if ($o{video} // 1) {
        push @cmd, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p';
    }
    push @cmd, '-c:a', 'aac' if $o{audio} // 1;
    push @cmd, @{ $o{extra} // [] }, $path;
    system(@cmd) == 0 or die "ffmpeg failed: @cmd\n";
    return $path;
}

# A video whose every frame shows its own number (plus offset) as ten
# blocks 32 px wide across the top 80 rows of a 320x240 picture, bit i
# (value 2^i) white (235) or black (16) in block i, on grey: a browser test
# reads the frame on screen back from a canvas (t/browser/review.mjs).
#   make_frame_counter($path, rate => '30000/1001', seconds => 6, offset => 0)
sub make_frame_counter {
    my ($path, %o) = @_;
    my $off = $o{offset} // 0;
    my $bit = "mod(floor((N+$off)/pow(2\\,floor(X/32)))\\,2)";
    return make_media($path, seconds => $o{seconds} // 6, size => '320x240', rate => $o{rate} // 25,
                      vf => "geq=lum='if(lt(Y\\,80)\\,if($bit\\,235\\,16)\\,64)':cb=128:cr=128");
}

# a phone-style display matrix (rotate 90 clockwise to display) in the
# first track header of an MP4: FFmpeg 5.1 has no option to write one
sub set_rotation {
    my ($path) = @_;
    open my $f, '+<', $path or die "$path: $!";
    binmode $f;
    local $/;
    my $d = <$f>;
    my $i = index($d, 'tkhd');
    die "$path: no tkhd" if $i < 0;
    # type, version/flags, times, track id, reserved, duration, reserved,
    # layer, group, volume, reserved: then the 3x3 matrix
    substr($d, $i + 44, 36) = pack('N9', 0, 0x10000, 0, 0xFFFF0000, 0, 0, 0, 0, 0x40000000);
    seek $f, 0, 0;
    print $f $d;
    close $f;
    return $path;
}

# ffprobe's JSON of a file or URL
sub ffprobe {
    my ($what, @args) = @_;
    my $out = `ffprobe -v error -print_format json @args '$what' 2>/dev/null`;
    return eval { decode_json($out) } // {};
}

# keyframe times of the first video stream
sub keyframes {
    my ($what) = @_;
    my @t = `ffprobe -v error -select_streams v:0 -skip_frame nokey -show_entries frame=pts_time -of csv=p=0 '$what' 2>/dev/null`;
    return map { /([\d.]+)/ ? sprintf('%.3f', $1) : () } @t;
}

# a playlist's tags and URIs
sub playlist {
    my ($file) = @_;
    open my $fh, '<', $file or return;
    local $/;
    return scalar <$fh>;
}

1;
