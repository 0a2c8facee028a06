#!/usr/bin/perl
# mam-test: slow
# Chaos (operations.md, Reliability), beside t/61's kill -9 of transcoderd
# mid-job: Redis restarted with jobs queued (none lost), PostgreSQL
# restarted under load (503 while down, 200 again without a reload), and
# nginx reloaded under SSE and streaming load (downloads finish, API
# requests never fail, SSE streams end cleanly so EventSource reconnects).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use Socket;
use Time::HiRes qw(sleep time);
use Mam::Stack;
use Mam::Media qw(make_media);

my $s = Mam::Stack->new(workers => 2, transcoderd => 1, rate_limits => 'off',
                        preview_reconcile_interval => '300ms', preview_stall_timeout => 5);
$s->start;
$s->register('admin@example.com');
my $E = $s->register('ed@example.com')->{access_token};
my $media = tempdir(CLEANUP => 1);
make_media("$media/clip.mp4", seconds => 2, size => '640x360');
my $clip = $s->slurp("$media/clip.mp4");

# how many entries of previews:build carry each job
sub entries_per_job {
    my %n;
    $n{$_}++ for $s->redis_cli('XRANGE', 'previews:build', '-', '+') =~ /^job_id\n(\S+)$/mg;
    return \%n;
}
sub job_of {
    my ($aid) = @_;
    return $s->api(GET => "/api/preview/status?asset_id=$aid", undef, token => $E)->{json}{job_id} // '';
}

sub status_of {
    my ($aid) = @_;
    return $s->api(GET => "/api/preview/status?asset_id=$aid", undef, token => $E)->{json}{status} // '';
}

# --- Redis restarted with jobs queued -------------------------------------------
$s->stop_transcoderd;
my @aids;
for my $n (1 .. 3) {
    my $a = $s->create_asset($E, content => $clip, title => "queued $n");
    is($s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E)->{status}, 201,
       "promote $n with transcoderd stopped");
    push @aids, $a->{id};
}
is($s->redis_cli('XLEN', 'previews:build'), "3\n", 'three jobs wait in the stream');
my %before = map { $_ => 1 } grep { /^\d+-\d+$/ } split /\n/,
    $s->redis_cli('XRANGE', 'previews:build', '-', '+');
is(scalar keys %before, 3, '... three entries');
my @jobs = map { job_of($_) } @aids;
is_deeply(entries_per_job(), { map { $_ => 1 } @jobs }, '... one for each job');
$s->stop_redis;                         # no persistence: the stream is gone
$s->start_redis;
# reconciliation (every 300 ms here) may have refilled it already: what
# proves the loss is that none of the old entries is there
$s->wait_until(sub { $s->redis_cli('XLEN', 'previews:build') =~ /^3$/m }, 30,
               'jobs re-enqueued');
my @after = grep { /^\d+-\d+$/ } split /\n/, $s->redis_cli('XRANGE', 'previews:build', '-', '+');
is(scalar(grep { $before{$_} } @after), 0,
   'Redis came back empty: the three entries now in the stream are new ones');
is_deeply(entries_per_job(), { map { $_ => 1 } @jobs }, '... one for each job');
$s->start_transcoderd;
$s->wait_until(sub { !grep { status_of($_) ne 'ready' } @aids }, 120, 'all ready');
is_deeply([ map { status_of($_) } @aids ], [qw(ready ready ready)],
          'no job was lost: reconciliation re-enqueued them from PostgreSQL');
is_deeply(entries_per_job(), { map { $_ => 1 } @jobs },
          '... and never added a second entry for any of them');

# --- PostgreSQL restarted under load ---------------------------------------------
my $log = $s->data_dir . '/load.log';
my $load = fork // die;
if ($load == 0) {
    my $ua = HTTP::Tiny->new(timeout => 10);
    open my $fh, '>', $log or die;
    my $end = time + 12;
    while (time < $end) {
        my $r = $ua->get($s->url('/api/assets?limit=5'), { headers => { Authorization => "Bearer $E" } });
        printf $fh "%.3f %d\n", time, $r->{status};
    }
    close $fh;
    exit 0;
}
sleep 2;
my $master = $s->nginx_pid;
$s->stop_postgres;
sleep 3;
$s->start_postgres;
waitpid $load, 0;
my @st = map { (split)[1] } split /\n/, $s->slurp($log);
my %count;
$count{$_}++ for @st;
cmp_ok(scalar @st, '>', 50, scalar(@st) . ' requests during the restart');
is_deeply([ grep { $_ != 200 && $_ != 503 } sort keys %count ], [],
          'every answer was 200 or 503 (' . join(', ', map { "$_: $count{$_}" } sort keys %count) . ')');
cmp_ok($count{503} // 0, '>', 0, '503 while PostgreSQL was down');
is($st[-1], 200, 'and 200 again by itself');
is($s->nginx_pid, $master, '... without a reload');

# --- nginx reloaded under SSE and streaming load ------------------------------------
my $url = $s->api(POST => '/api/sign-preview', { asset_id => $aids[0] }, token => $E)->{json}{url};
my ($file) = grep { -s $_ } glob($s->data_dir . "/storage/previews/$aids[0]/*/360p/*.ts");
my ($seg) = $file =~ m{/(360p/[^/]+)$};
my $seg_size = -s $file;
(my $seg_url = $url) =~ s{index\.m3u8$}{$seg};

# slow readers: SSE clients and segment downloads held open across the reload
my @sse = map {
    my $k = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    print $k "GET /api/preview/events?asset_id=$aids[0] HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $E\r\n\r\n";
    $k } 1 .. 4;
my @dl = map {
    my $k = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    setsockopt($k, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096);
    print $k "GET $seg_url HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    $k } 1 .. 4;
sleep 0.5;

my $api_log = $s->data_dir . '/reload.log';
my $api = fork // die;
if ($api == 0) {
    # a new connection each time: a keep-alive connection that the old
    # worker closes just as a request goes out on it is the documented
    # race of every HTTP server's graceful shutdown (clients retry those)
    my $ua = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
    open my $fh, '>', $api_log or die;
    my $end = time + 4;
    while (time < $end) {
        print $fh $ua->get($s->url('/api/health'))->{status}, "\n";
    }
    exit 0;
}
sleep 1;
$s->reload_nginx;
waitpid $api, 0;

my @api = split /\n/, $s->slurp($api_log);
is_deeply([ grep { $_ != 200 } @api ], [], scalar(@api) . ' API requests across the reload, all 200');

my $whole = 0;
for my $k (@dl) {
    local $/;
    my $got = <$k> // '';
    my ($body) = $got =~ /\r\n\r\n(.*)$/s;
    $whole++ if $got =~ m{^HTTP/1\.1 200} && defined $body && length $body == $seg_size;
}
is($whole, 4, 'segment downloads in flight during the reload all finished whole');

my $ended = 0;
for my $k (@sse) {
    my ($got, $sel, $deadline) = ('', IO::Select->new($k), time + 10);
    while (time < $deadline) {
        next unless $sel->can_read(0.1);
        my $n = sysread $k, my $chunk, 65536;
        last unless $n;
        $got .= $chunk;
    }
    $ended++ if $got =~ /event: status/ && time < $deadline;
}
is($ended, 4, 'SSE streams got their status, then the reload ended them (EventSource reconnects)');

# no crash, and no alert: an old worker that exited under a request still
# waiting on PostgreSQL or Redis would log "open socket ... left" (t/93)
$s->check_error_log;
done_testing();
