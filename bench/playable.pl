#!/usr/bin/perl
# Playable while transcoding (issue 20): time from promote to the first
# playable preview (the status says `playable`: the first segments of
# every stream and the master playlist are published) against time to
# ready, for a generated 1080p master (testsrc2 with temporal noise, about
# 8 Mb/s, with audio; BENCH_PLAYABLE_SECONDS long, 120 by default; the
# issue's figure is for 600) through the whole stack: the module, Redis,
# transcoderd with its default preset (veryfast), local storage.  Bar:
# the first playable within a few segments' worth of encoding, whatever
# the length: at most the time the ladder takes for 18 s of the master
# (3 segments, pro rata of the time to ready) plus 5 s (the job's pickup,
# the renderer's start, the first segments' encoder delay).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);
use Mam::Stack;

my $SECONDS = $ENV{BENCH_PLAYABLE_SECONDS} // 120;
my $dir = tempdir(CLEANUP => 1);
my $src = "$dir/src.mp4";

system('ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
       '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=25,noise=alls=12:allf=t',
       '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
       '-t', $SECONDS, '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '8M',
       '-maxrate', '8M', '-bufsize', '16M', '-pix_fmt', 'yuv420p',
       '-c:a', 'aac', $src) == 0 or die "cannot make the source\n";

my $s = Mam::Stack->new(transcoderd => 1, td_extra => "preset = veryfast\nstall_timeout = 600\n",
                        rate_limits => 'off');
$s->start;
my $E = $s->register('bench@example.com')->{access_token};
my $bytes = do { open my $f, '<', $src or die $!; binmode $f; local $/; <$f> };
my $a = $s->create_asset($E, content => $bytes, filename => 'master.mp4');

my $t0 = time;
my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E);
die "promote: $r->{status}\n" unless $r->{status} == 201;
my $vid = $r->{json}{version}{id};
my ($playable, $ready, $st);
while (time - $t0 < 4 * 3600) {
    my $r = $s->api(GET => "/api/preview/status?version_id=$vid", undef, token => $E);
    if ($r->{status} == 401) {
        # a long master outlives the access token (15 minutes)
        $E = $s->login('bench@example.com')->{access_token};
        next;
    }
    die "status: $r->{status} $r->{content}\n" unless $r->{status} == 200;
    $st = $r->{json};
    $playable //= time - $t0 if $st->{playable};
    last if $st->{status} =~ /^(ready|failed)$/;
    sleep 0.1;
}
$ready = time - $t0;
die "the preview failed: $st->{error}\n" unless $st->{status} eq 'ready';
die "never playable before ready\n" unless defined $playable && $playable < $ready;

my $bar = $ready * 18 / $SECONDS + 5;
my $ok = $playable <= $bar;
printf "ROW playable|time to first playable, %d s 1080p master|%.1f s|<= %.1f s (18 s of it pro rata + 5 s)|%s\n",
    $SECONDS, $playable, $bar, $ok ? 'pass' : 'FAIL';
printf "ROW playable|time to ready|%.1f s||%.2fx of it to first playable\n", $ready, $playable / $ready;
exit($ok ? 0 : 1);
