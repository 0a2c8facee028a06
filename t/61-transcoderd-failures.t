#!/usr/bin/perl
# mam-test: slow
# transcoderd when things go wrong: permanent failures at once (corrupt,
# truncated, cover art only), transient ones retried with backoff then
# dead-lettered, entries of dead consumers reclaimed, kill -9 and SIGTERM
# mid-job, SIGHUP, progress at least every 2 s, and several job slots.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Mam::Stack;
use Mam::Media qw(make_media keyframes playlist);

my $s = Mam::Stack->new(transcoderd => 1, td_extra => "preset = veryfast\n");
$s->start;
my $root = $s->data_dir . '/storage';
my $media = tempdir(CLEANUP => 1);
my $E = $s->register('ed@example.com')->{access_token};

sub slurp_file { open my $fh, '<', $_[0] or die "$_[0]: $!"; binmode $fh; local $/; <$fh> }
sub submit {
    my ($content, $name) = @_;
    my $a = $s->create_asset($E, content => $content, filename => $name // 'clip.mp4');
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E);
    die "promote: $r->{status}" unless $r->{status} == 201;
    return ($a->{id}, $r->{json}{version});
}
sub status { $s->api(GET => "/api/preview/status?version_id=$_[0]", undef, token => $E)->{json} }
sub wait_status {
    my ($vid, $re, $timeout) = @_;
    my $st;
    $s->wait_until(sub { $st = status($vid); ($st->{status} // "") =~ $re }, $timeout // 90, "status $re");
    return $st;
}
sub td_log { $s->slurp($s->transcoderd_log) }
sub redis { my $o = $s->redis_cli(@_); chomp $o; $o }

# --- permanent failures fail at once ---------------------------------------
my $good = make_media("$media/good.mp4", seconds => 2);
my $cover = "$media/cover.mp4";
system("ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=320x240 -frames:v 1 $media/c.jpg "
       . "&& ffmpeg -hide_banner -loglevel error -y -i $media/c.jpg -map 0 -c copy "
       . "-disposition:0 attached_pic $cover") == 0 or die 'cover';
my %bad = (
    corrupt   => [ join('', map { chr(($_ * 131 + 7) % 256) } 1 .. 50_000), 'not a media file' ],
    truncated => [ substr(slurp_file($good), 0, 20_000), 'not a media file' ],
    cover     => [ slurp_file($cover), 'only a cover picture' ],
);
for my $name (sort keys %bad) {
    my $t0 = time;
    my ($aid, $v) = submit($bad{$name}[0], "$name.mp4");
    my $st = wait_status($v->{id}, qr/^(ready|failed)$/, 30);
    is($st->{status}, 'failed', "$name input: failed");
    like($st->{error}, qr/\Q$bad{$name}[1]\E/, "... saying \"$bad{$name}[1]\"");
    cmp_ok(time - $t0, '<', 5, '... at once, without retries');
    ok(!-e "$root/previews/$aid/$v->{id}", '... with nothing published');
}
is(redis('XLEN', 'previews:dead'), '0', 'permanent failures are not dead-lettered');
ok(kill(0, $s->transcoderd_pid), 'the daemon is still running');
my (undef, $v_ok) = submit(slurp_file($good));
is(wait_status($v_ok->{id}, qr/^(ready|failed)$/)->{status}, 'ready', '... and the next job is fine');

# --- transient failures: backoff, then previews:dead --------------------------
$s->stop_transcoderd;
my ($aid_m, $v_m) = submit(slurp_file($good));
unlink "$root/$v_m->{master_key}" or die "unlink: $!";
$s->start_transcoderd;
my $st = wait_status($v_m->{id}, qr/^failed$/, 30);
like($st->{error}, qr/cannot read the master/, 'a master that cannot be read fails after the retries');
my @tries = td_log() =~ /job=\Q$v_m->{preview}{job_id}\E attempt (\d) failed: cannot read/g;
is_deeply(\@tries, [1, 2, 3], '... three attempts (the configured count)');
like(redis('XRANGE', 'previews:dead', '-', '+'), qr/\Q$v_m->{preview}{job_id}\E.*cannot read the master/s,
     '... then the job goes to previews:dead with its error');
is(redis('XPENDING', 'previews:build', 'transcoderd') =~ /^(\d+)/ ? $1 : -1, 0,
   '... and is acknowledged');

# --- a dead consumer's entry is reclaimed ------------------------------------
$s->stop_transcoderd;
my (undef, $v_g) = submit(slurp_file($good));
like($s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'ghost', 'COUNT', '1', 'STREAMS',
                   'previews:build', '>'), qr/\Q$v_g->{preview}{job_id}\E/,
     'a consumer takes a job and dies');
$s->start_transcoderd;
is(wait_status($v_g->{id}, qr/^ready$/, 60)->{status}, 'ready',
   'transcoderd reclaims it with XAUTOCLAIM and finishes it');
like(td_log(), qr/job=\Q$v_g->{preview}{job_id}\E claimed entry/, '... which it logs');

# --- kill -9 mid-job ---------------------------------------------------------------
my $long = make_media("$media/long.mp4", seconds => 20, size => '1280x720');
my ($aid_k, $v_k) = submit(slurp_file($long));
wait_status($v_k->{id}, qr/^processing$/, 30);
$s->wait_until(sub { status($v_k->{id})->{progress} > 0 }, 30, 'progress');
$s->stop_transcoderd('KILL');
# published while it rendered (issue 20): at most the growing ladder, never
# a finished one
my $left = "$root/previews/$aid_k/$v_k->{id}";
ok(!-e $left || ((playlist("$left/index.m3u8") // '# progressive:') =~ /^# progressive:/m
                 && !grep { (playlist($_) // '') =~ /#EXT-X-ENDLIST/ } glob("$left/*/index.m3u8")),
   'killed mid-job: nothing finished is published (at most the growing ladder)');
my $had_master = -e "$left/index.m3u8";
$s->start_transcoderd;
$st = wait_status($v_k->{id}, qr/^(ready|failed)$/, 120);
is($st->{status}, 'ready', 'after a restart the same job completes');
like(td_log(), qr/job=\Q$v_k->{preview}{job_id}\E removed the progressive ladder an interrupted attempt left/,
     '... having removed what the killed one published first') if $had_master;
my $out = "$root/previews/$aid_k/$v_k->{id}";
is(scalar(keyframes("$out/360p/index.m3u8")), 10, '... the ladder is whole (10 keyframes in 20 s)');
like(playlist("$out/index.m3u8"), qr/720p\/index\.m3u8/, '... with its master playlist');
opendir my $dh, "$root/previews/$aid_k" or die;
is_deeply([ grep { !/^\.\.?$/ } readdir $dh ], [ $v_k->{id} ], '... and no leftover temporary folder');

# --- SIGTERM mid-job ------------------------------------------------------------
my ($aid_t, $v_t) = submit(slurp_file($long));
$s->wait_until(sub { status($v_t->{id})->{progress} > 0 }, 30, 'progress');
my $t0 = time;
$s->stop_transcoderd('TERM');
my $took = time - $t0;
cmp_ok($took, '<', 10, sprintf('SIGTERM: transcoderd exits within 10 s (%.1f s)', $took));
like(td_log(), qr/job=\Q$v_t->{preview}{job_id}\E abandoned at shutdown/, '... abandoning the job');
like(redis('XPENDING', 'previews:build', 'transcoderd'), qr/^1\n/, '... unacknowledged');
$s->start_transcoderd;

# progress at least every 2 s: the callbacks' arrival times over SSE
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $sock "GET /api/preview/events?asset_id=$aid_t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $E\r\n\r\n";
$sock->blocking(0);
my ($buf, @times) = ('');
my $sel = IO::Select->new($sock);
my $deadline = time + 120;
while (time < $deadline && $buf !~ /"status":"ready"/) {
    next unless $sel->can_read(0.1);
    sysread($sock, my $chunk, 65536) or last;
    push @times, time for $chunk =~ /"status":"processing"/g;
    $buf .= $chunk;
}
like($buf, qr/"status":"ready"/, 'the abandoned job completes after the restart');
shift @times;    # the status at connect, before the job was reclaimed
my $gap = 0;
for my $i (1 .. $#times) { $gap = $times[$i] - $times[$i - 1] if $times[$i] - $times[$i - 1] > $gap }
cmp_ok(scalar @times, '>=', 3, 'progress events while it works');
cmp_ok($gap, '<', 2.5, sprintf('... no more than 2 s apart (largest gap %.2f s)', $gap));

# --- a second instance never takes a job that is being worked ------------------
my ($aid_2, $v_2) = submit(slurp_file($long));
$s->wait_until(sub { status($v_2->{id})->{progress} > 0 }, 30, 'progress');
my $second = $s->spawn("$Mam::Stack::ROOT/build/transcoderd", '-c', $s->transcoderd_conf);
is(wait_status($v_2->{id}, qr/^(ready|failed)$/, 120)->{status}, 'ready',
   'with a second instance running, a long job (longer than claim_idle_ms) completes');
my @starts = td_log() =~ /job=\Q$v_2->{preview}{job_id}\E start:/g;
is(scalar @starts, 1, '... started once: its pending entry was kept fresh, never reclaimed');
$s->kill_wait($second, 'TERM', 15);

# --- SIGHUP -----------------------------------------------------------------------
rename $s->transcoderd_log, $s->transcoderd_log . '.1';
kill 'HUP', $s->transcoderd_pid;
$s->wait_until(sub { -e $s->transcoderd_log }, 5, 'log reopened');
like(td_log(), qr/configuration re-read, log reopened/, 'SIGHUP re-reads the configuration and reopens the log');

# --- two job slots ---------------------------------------------------------------
$s->stop_transcoderd;
$s->{td_extra} = "preset = veryfast\njobs = 2\n";
$s->start_transcoderd;
my @two = map { (submit(slurp_file($long)))[1] } 1 .. 2;
$s->wait_until(sub { !grep { status($_->{id})->{status} ne 'processing' } @two }, 60, 'both processing');
pass('jobs = 2: two jobs are processed at once');
wait_status($_->{id}, qr/^ready$/, 180) for @two;
pass('... and both finish');

$s->check_error_log;
done_testing();
