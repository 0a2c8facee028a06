#!/usr/bin/perl
# mam-test: slow
# A master is an attacker's file (issue 14): it opens only through the
# allow-list of single-file demuxers and reaches nothing but itself; limits
# on frame size, duration, streams and frame rate fail it for good; it is
# rendered by a confined child that a stall, a signal or a shutdown ends
# without taking the daemon along; and a job that kills every consumer
# that takes it is dead-lettered after max_deliveries.  (Corrupt and
# truncated masters: t/61.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(mkfifo);
use Time::HiRes qw(time sleep);
use Mam::Stack;
use Mam::Media qw(make_media);

my $TD = "stall_timeout = 3\nmax_deliveries = 3\nmax_duration = 60\n"
       . "max_streams = 8\n";
my $s = Mam::Stack->new(transcoderd => 1, td_extra => $TD);
$s->start;
my $root = $s->data_dir . '/storage';
my $media = tempdir(CLEANUP => 1);
my $V = $s->register('victim@example.com')->{access_token};
my $A = $s->register('attacker@example.com')->{access_token};

sub slurp_file { open my $fh, '<', $_[0] or die "$_[0]: $!"; binmode $fh; local $/; <$fh> }
sub submit {
    my ($token, $content, %opt) = @_;
    my $a = $s->create_asset($token, content => $content, filename => $opt{filename} // 'clip.mp4',
                             content_type => $opt{content_type} // 'video/mp4');
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $token);
    die "promote: $r->{status} $r->{content}" unless $r->{status} == 201;
    return ($a->{id}, $r->{json}{version});
}
sub status { $s->api(GET => "/api/preview/status?version_id=$_[1]", undef, token => $_[0])->{json} }
sub wait_end {
    my ($token, $vid, $timeout) = @_;
    my $st;
    $s->wait_until(sub { $st = status($token, $vid); ($st->{status} // '') =~ /^(ready|failed)$/ },
                   $timeout // 60, "version $vid ends");
    return $st;
}
sub td_log { $s->slurp($s->transcoderd_log) }
sub redis { my $o = $s->redis_cli(@_); chomp $o; $o }
sub pending { redis('XPENDING', 'previews:build', 'transcoderd') =~ /^(\d+)/ ? $1 : -1 }
sub renderer {
    my $pid = $s->transcoderd_pid or return;
    my ($child) = `pgrep -P $pid` =~ /(\d+)/;
    return $child;
}
sub wait_renderer {
    my $child;
    $s->wait_until(sub { $child = renderer() }, 30, 'a renderer child runs');
    return $child;
}
sub files_under { my $d = shift; return () unless -d $d; return grep { -f } split /\n/, `find $d` }

# --- the attack of the issue: a playlist naming another user's master -----------
make_media("$media/victim.ts", seconds => 2, size => '320x240');
my ($vaid, $vv) = submit($V, slurp_file("$media/victim.ts"), filename => 'victim.ts',
                         content_type => 'video/mp2t');
is(wait_end($V, $vv->{id})->{status}, 'ready', "the victim's MPEG-TS master renders");
my $victim_master = "$root/$vv->{master_key}";
ok(-f $victim_master, '... and is stored at a path an attacker could guess');

my $listener = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0,
                                     ReuseAddr => 1) or die "listen: $!";
my $port = $listener->sockport;
my $hls = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        . "#EXTINF:2.0,\n$victim_master\n#EXTINF:2.0,\nhttp://127.0.0.1:$port/seg.ts\n"
        . "#EXT-X-ENDLIST\n";
my ($aid, $av) = submit($A, $hls, filename => 'x.m3u8', content_type => 'video/mp4');
my $st = wait_end($A, $av->{id});
is($st->{status}, 'failed', 'a playlist master fails');
like($st->{error}, qr/not a supported media container: hls/, '... saying so: ' . ($st->{error} // ''));
ok(!IO::Select->new($listener)->can_read(0.5), '... the URL it names was never connected to');
is_deeply([files_under("$root/previews/$aid")], [], "... the attacker's previews hold nothing");
is(redis('XLEN', 'previews:dead'), '0', '... a permanent failure, not retried');

my $concat = "ffconcat version 1.0\nfile $victim_master\nfile http://127.0.0.1:$port/b.ts\n";
($aid, $av) = submit($A, $concat, filename => 'list.mp4');
$st = wait_end($A, $av->{id});
like($st->{error}, qr/not a supported media container: concat/, 'an ffconcat master fails: ' . ($st->{error} // ''));
is_deeply([files_under("$root/previews/$aid")], [], "... nothing of the victim's is rendered");
ok(!IO::Select->new($listener)->can_read(0.2), '... no connection to the listener either');

# --- limits: each says which ----------------------------------------------------------
system("ffmpeg -hide_banner -loglevel error -y -f lavfi -i color=s=4096x16:d=0.04 -c:v rawvideo "
       . "-pix_fmt yuv420p $media/raw.mkv") == 0 or die 'raw.mkv';
my $raw = slurp_file("$media/raw.mkv");
my $n = ($raw =~ s/\xB0\x82\x10\x00/\xB0\x82\xFF\xF0/);    # PixelWidth 4096 -> 65520
is($n, 1, 'a Matroska file declaring a 65520x16 frame is made');
make_media("$media/long.mp4", seconds => 61, size => '64x64', audio => 0);
make_media("$media/fast.mp4", seconds => 0.5, size => '64x64', rate => 300, audio => 0,
           extra => ['-r', '300']);
make_media("$media/streams.mkv", seconds => 0.5, size => '64x64',
           extra => [ map { ('-map', $_) } '0:v', ('1:a') x 8 ]);
make_media("$media/many.mkv", seconds => 0.5, size => '64x64',
           extra => [ map { ('-map', $_) } '0:v', ('1:a') x 30 ]);
my %limit = (
    'many.mkv'    => [ slurp_file("$media/many.mkv"), qr/more streams than the limit of 8 \(max_streams\)/ ],
    'huge.mkv'    => [ $raw, qr/the frame is 65520x16, larger than the limit of 8192x4320 \(max_frame\)/ ],
    'long.mp4'    => [ slurp_file("$media/long.mp4"), qr/longer than the limit of 60 s \(max_duration\)/ ],
    'fast.mp4'    => [ slurp_file("$media/fast.mp4"), qr/frame rate is 300\.00 fps, above the limit of 240 \(max_frame_rate\)/ ],
    'streams.mkv' => [ slurp_file("$media/streams.mkv"), qr/9 streams, more than the limit of 8 \(max_streams\)/ ],
);
for my $name (sort keys %limit) {
    my $t0 = time;
    my ($id, $v) = submit($A, $limit{$name}[0], filename => $name);
    my $r = wait_end($A, $v->{id});
    is($r->{status}, 'failed', "$name fails");
    like($r->{error}, $limit{$name}[1], "... naming its limit: " . ($r->{error} // ''));
    cmp_ok(time - $t0, '<', 10, '... at once, for good');
}
is(redis('XLEN', 'previews:dead'), '0', 'limits are permanent failures: nothing dead-lettered');

# --- a corrupt middle: whatever the decoder makes of it, the daemon goes on -----------
make_media("$media/mid.mkv", seconds => 3, size => '320x240');
my $mid = slurp_file("$media/mid.mkv");
substr($mid, int(length($mid) / 3), 4000) = join '', map { chr(($_ * 197 + 11) % 256) } 1 .. 4000;
my (undef, $vm) = submit($A, $mid, filename => 'mid.mkv');
like(wait_end($A, $vm->{id})->{status}, qr/^(ready|failed)$/, 'a master corrupt in the middle ends');
ok(kill(0, $s->transcoderd_pid), '... and the daemon runs on');

# --- a renderer killed by a signal: the attempt fails with its name -----------------
make_media("$media/long720.mp4", seconds => 12, size => '1280x720');
my $long720 = slurp_file("$media/long720.mp4");
my (undef, $vs) = submit($A, $long720);
# (under AddressSanitizer a SIGSEGV becomes ASan's report and exit status
# 1, so the sanitized run sends SIGABRT, which ASan leaves alone)
my $sig = $ENV{MAM_SANITIZE} ? 'ABRT' : 'SEGV';
my $child = wait_renderer();
ok(kill($sig, $child), "the renderer ($child) is sent SIG$sig");
$st = wait_end($A, $vs->{id}, 120);
like(td_log(), qr/job=\Q$vs->{preview}{job_id}\E attempt 1 failed: the renderer was killed by SIG$sig/,
     'the attempt failed naming the signal');
is($st->{status}, 'ready', '... the daemon went on: the next attempt rendered it');
ok(kill(0, $s->transcoderd_pid), '... in the same daemon');

# --- a hanging input: the stall watchdog ---------------------------------------------
# The master is swapped for a FIFO whose writer never writes: reads block,
# as on a hung mount.  The ticker stops claiming it, the watchdog kills the
# child after stall_timeout (3 s here), and after the attempts it fails.
sub fifo_master {
    my ($v) = @_;
    my $path = "$root/$v->{master_key}";
    unlink $path or die "unlink $path: $!";
    mkfifo($path, 0644) or die "mkfifo: $!";
    my $pid = fork // die;
    if ($pid == 0) { open my $w, '>', $path or POSIX::_exit(1); sleep 600; POSIX::_exit(0) }
    return $pid;
}
$s->stop_transcoderd;
my (undef, $vf) = submit($A, slurp_file("$media/victim.ts"));
my $writer = fifo_master($vf);
$s->start_transcoderd;
my $t0 = time;
$st = wait_end($A, $vf->{id}, 60);
my $took = time - $t0;
is($st->{status}, 'failed', 'a master that never delivers its bytes fails');
like($st->{error}, qr/stopped advancing for \d+ s \(stall_timeout\)/, '... by the stall watchdog: ' . ($st->{error} // ''));
cmp_ok($took, '<', 3 * (3 + 3), "... within the attempts' stall timeouts (${\ sprintf '%.1f', $took } s)");
my @stalls = td_log() =~ /job=\Q$vf->{preview}{job_id}\E attempt (\d) failed: the master stopped advancing/g;
is_deeply(\@stalls, [1, 2, 3], '... each attempt ended by the watchdog');
my (undef, $vn) = submit($A, slurp_file("$media/victim.ts"));
is(wait_end($A, $vn->{id})->{status}, 'ready', '... and the next job runs');
kill 'KILL', $writer; waitpid $writer, 0;

# --- job_timeout: a master that keeps advancing and never ends -------------------------
$s->{td_extra} = $TD . "job_timeout = 5\nattempts = 1\n";
$s->stop_transcoderd;
my (undef, $vd) = submit($A, slurp_file("$media/victim.ts"));
{
    my $path = "$root/$vd->{master_key}";
    unlink $path or die;
    mkfifo($path, 0644) or die;
    my $ts = slurp_file("$media/victim.ts");
    $writer = fork // die;
    if ($writer == 0) {
        # a trickle of the master, one TS packet every 50 ms, for ever
        $SIG{PIPE} = 'IGNORE';
        open my $w, '>', $path or POSIX::_exit(1);
        select((select($w), $| = 1)[0]);
        for (my $i = 0; ; $i = ($i + 188) % length $ts) {
            print $w substr($ts, $i, 188) or POSIX::_exit(0);
            sleep 0.05;
        }
    }
}
$s->start_transcoderd;
$st = wait_end($A, $vd->{id}, 40);
like($st->{error}, qr/ran longer than 5 s \(job_timeout\)/, 'a master that never ends is cut at job_timeout: ' . ($st->{error} // ''));
kill 'KILL', $writer; waitpid $writer, 0;

# --- poison: every consumer that takes it dies -> previews:dead ----------------------
$s->{td_extra} = $TD;
$s->stop_transcoderd;
redis('DEL', 'previews:dead');
my (undef, $vp) = submit($A, $long720);
my $job = $vp->{preview}{job_id};
for my $round (1 .. 3) {
    $s->start_transcoderd;
    my $c = wait_renderer();
    my $td = $s->transcoderd_pid;
    $s->stop_transcoderd('KILL');
    $s->wait_until(sub { !kill(0, $c) || `ps -o stat= -p $c` =~ /Z/ }, 5, 'renderer gone');
    pass("round $round: consumer $td killed -9 mid-job, its renderer $c went with it");
}
$s->start_transcoderd;
$st = wait_end($A, $vp->{id}, 30);
is($st->{status}, 'failed', 'after max_deliveries (3) deliveries the job fails');
like($st->{error}, qr/gave up after 3 deliveries.*max_deliveries 3/, '... saying why: ' . ($st->{error} // ''));
like(redis('XRANGE', 'previews:dead', '-', '+'), qr/\Q$job\E.*max_deliveries/s, '... and is dead-lettered');
is(pending(), 0, '... acknowledged: no consumer takes it again');
unlike(td_log(), qr/job=\Q$job\E start: entry \S+, attempt \d+, delivery 4/, '... the fourth delivery rendered nothing');

# --- SIGTERM while the renderer hangs ------------------------------------------------
$s->{td_extra} = $TD . "stall_timeout = 300\n";
$s->stop_transcoderd;
my (undef, $vh) = submit($A, slurp_file("$media/victim.ts"));
$writer = fifo_master($vh);
$s->start_transcoderd;
my $hung = wait_renderer();
sleep 0.5;
my $tdpid = $s->transcoderd_pid;
$t0 = time;
$s->stop_transcoderd('TERM');
cmp_ok(time - $t0, '<', 10, sprintf('SIGTERM with a hanging renderer: the daemon exits in %.1f s', time - $t0));
ok(!kill(0, $hung) || `ps -o stat= -p $hung` =~ /Z/, '... and the renderer is gone');
is(pending(), 1, '... the entry stays pending for the next consumer');
like(td_log(), qr/job=\Q$vh->{preview}{job_id}\E abandoned at shutdown/, '... abandoned, not failed');
kill 'KILL', $writer; waitpid $writer, 0;

$s->check_error_log;
done_testing();
