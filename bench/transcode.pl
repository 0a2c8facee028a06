#!/usr/bin/perl
# Transcode (operations.md, Benchmarks): the full ladder of a generated
# 30 s 1080p clip (testsrc2 with temporal noise, about 8 Mb/s, with audio)
# by transcoderd (-r: render only) vs the ffmpeg program doing the same
# ladder with the same settings in one process (bench/ffmpeg-ladder.sh).
# Median of BENCH_RUNS (3) runs each, alternating.  Bars: wall <= 1.0x,
# peak memory <= 1.5x.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);

my $RUNS = $ENV{BENCH_RUNS} // 3;
my $root = "$FindBin::Bin/..";
my $td = "$root/build/transcoderd";
my $dir = tempdir(CLEANUP => 1);
my $src = "$dir/src.mp4";

system('ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
       '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=25,noise=alls=12:allf=t',
       '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
       '-t', 30, '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '8M',
       '-maxrate', '8M', '-bufsize', '16M', '-pix_fmt', 'yuv420p',
       '-c:a', 'aac', $src) == 0 or die "cannot make the source\n";

# wall seconds, CPU seconds, peak RSS KiB of a command
sub measure {
    my (@cmd) = @_;
    my $out = `/usr/bin/time -f '%e %U %S %M' @cmd 2>&1 >/dev/null`;
    my ($wall, $user, $sys, $rss) = (split /\n/, $out)[-1] =~ /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/
        or die "measure @cmd: $out";
    return [$wall, $user + $sys, $rss];
}
sub median { my @v = sort { $a <=> $b } @_; $v[$#v / 2] }

my (@ours, @base);
for my $i (1 .. $RUNS) {
    push @ours, measure($td, '-r', $src, "$dir/td$i");
    push @base, measure("$root/bench/ffmpeg-ladder.sh", $src, "$dir/ff$i");
    system('rm', '-rf', "$dir/td$i", "$dir/ff$i");
}
my @m = map { my $k = $_; [ median(map { $_->[$k] } @ours), median(map { $_->[$k] } @base) ] } 0 .. 2;
my ($wall, $cpu, $rss) = @m;
my $wr = $wall->[0] / $wall->[1];
my $mr = $rss->[0] / $rss->[1];
my $ok = $wr <= 1.0 && $mr <= 1.5;
printf "ROW transcode|wall, 30 s 1080p ladder (median of %d)|%.1f s|%.1f s (ffmpeg program)|%s (%.2fx)\n",
    $RUNS, $wall->[0], $wall->[1], $wr <= 1.0 ? 'pass' : 'FAIL', $wr;
printf "ROW transcode|CPU time|%.1f s|%.1f s||%.2fx\n", $cpu->[0], $cpu->[1], $cpu->[0] / $cpu->[1];
printf "ROW transcode|peak RSS|%.0f MiB|%.0f MiB|%s (%.2fx)\n", $rss->[0] / 1024, $rss->[1] / 1024,
    $mr <= 1.5 ? 'pass' : 'FAIL', $mr;
exit($ok ? 0 : 1);
