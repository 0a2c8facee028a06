#!/usr/bin/perl
# Prometheus metrics: the module's mam_metrics location (requests by route
# and status from every worker, PostgreSQL pool use and waits, Redis state,
# SSE clients) and transcoderd's own port (jobs by result, durations).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use Mam::Stack;
use Mam::Media qw(make_media);

my $tdport = Mam::Stack::free_port();
my $s = Mam::Stack->new(workers => 2, transcoderd => 1,
                        td_extra => "metrics_listen = 127.0.0.1:$tdport\n",
                        server_extra => "        location = /metrics { mam_metrics; }\n");
$s->start;

sub scrape {
    my $r = $s->http(GET => '/metrics');
    die "metrics: $r->{status}" unless $r->{status} == 200;
    my %m;
    for (split /\n/, $r->{content}) {
        next if /^#/;
        $m{$1} = $2 if /^(\S+(?:\{[^}]*\})?) (\S+)$/;
    }
    return (\%m, $r);
}
sub sum_of { my ($m, $re) = @_; my $t = 0; $t += $m->{$_} for grep { /$re/ } keys %$m; $t }

my $E = do { $s->register('admin@example.com'); $s->register('ed@example.com')->{access_token} };

$s->api(GET => '/api/health') for 1 .. 3;
$s->api(GET => '/api/assets') for 1 .. 2;          # no token: 401
$s->api(GET => '/api/nothing-here');                 # 404

my $media = tempdir(CLEANUP => 1);
make_media("$media/clip.mp4", seconds => 2, size => '640x360');
my $asset = $s->create_asset($E, content => $s->slurp("$media/clip.mp4"));
$s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $E);
$s->wait_until(sub {
    my $st = $s->api(GET => "/api/preview/status?asset_id=$asset->{id}", undef, token => $E)->{json};
    ($st->{status} // '') eq 'ready';
}, 120, 'ready');
my $url = $s->api(POST => '/api/sign-preview', { asset_id => $asset->{id} }, token => $E)->{json}{url};
is($s->http(GET => $url)->{status}, 200, 'a signed playlist through the edge');
(my $forged = $url) =~ s{^(/s/\d+/)(.)}{$1 . ($2 eq 'A' ? 'B' : 'A')}e;
$s->http(GET => $forged);

# a request is counted in its log phase, after its answer went out: the
# scrape may overtake the last one on a busy machine
my ($m, $r);
eval {
    $s->wait_until(sub {
        ($m, $r) = scrape();
        ($m->{'mam_http_requests_total{route="edge",status="403"}'} // 0) >= 1;
    }, 5, 'the last request counted');
};
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4', 'the Prometheus text format');
like($r->{content}, qr/^# TYPE mam_http_requests_total counter$/m, '... with TYPE lines');
cmp_ok($m->{'mam_http_requests_total{route="GET /api/health",status="200"}'} // 0, '>=', 3,
       'requests by route and status: GET /api/health 200');
cmp_ok($m->{'mam_http_requests_total{route="GET /api/assets",status="401"}'} // 0, '>=', 2,
       '... GET /api/assets 401');
cmp_ok($m->{'mam_http_requests_total{route="unmatched",status="404"}'} // 0, '>=', 1,
       '... an unknown path 404');
is($m->{'mam_http_requests_total{route="upload",status="201"}'}, 1, '... the upload PUT 201');
is($m->{'mam_http_requests_total{route="POST /api/promote",status="201"}'}, 1, '... the promote 201');
is($m->{'mam_http_requests_total{route="edge",status="200"}'}, 1,
   '... the edge, counted after its internal redirect');
cmp_ok($m->{'mam_http_requests_total{route="edge",status="403"}'} // 0, '>=', 1,
       '... and its refusals');
cmp_ok($m->{'mam_http_requests_total{route="POST /api/preview/callback",status="204"}'} // 0, '>=', 2,
       "... transcoderd's callbacks");

# every worker, whichever answers the scrape (gauges lag up to a second)
$s->wait_until(sub { ($m) = scrape(); sum_of($m, qr/^mam_redis_up\{/) == 2 }, 5, 'workers');
is(scalar(grep { /^mam_redis_up\{/ } keys %$m), 2, 'both workers report');
is(sum_of($m, qr/^mam_redis_up\{/), 2, 'Redis is up in both');
ok(exists $m->{'mam_pg_connections{worker="0",state="idle"}'}, 'PostgreSQL pool use by state');
ok(exists $m->{'mam_pg_waiting{worker="1"}'}, '... queries waiting');
ok(exists $m->{'mam_pg_wait_seconds_total{worker="0"}'}, '... and the time they waited');
cmp_ok(sum_of($m, qr/^mam_pg_connections\{.*state="(idle|busy)"/), '>=', 1, 'connections are open');

# PostgreSQL waits: more concurrent queries than the pool has connections
my @socks = map {
    my $k = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    print $k "GET /api/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $E\r\nConnection: close\r\n\r\n";
    $k } 1 .. 40;
$s->freeze_postgres('STOP');
sleep 0.5;
$s->freeze_postgres('CONT');
{ local $/; <$_> for @socks; }
sleep 1.2;
($m) = scrape();
cmp_ok(sum_of($m, qr/^mam_pg_waits_total/), '>', 0, 'queries that queued for a connection are counted');

# SSE clients
my $sse = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $sse "GET /api/preview/events?asset_id=$asset->{id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $E\r\n\r\n";
$s->wait_until(sub { ($m) = scrape(); sum_of($m, qr/^mam_sse_clients/) == 1 }, 5, 'sse');
is(sum_of($m, qr/^mam_sse_clients/), 1, 'one SSE client is counted');
close $sse;
$s->wait_until(sub { ($m) = scrape(); sum_of($m, qr/^mam_sse_clients/) == 0 }, 5, 'sse gone');
is(sum_of($m, qr/^mam_sse_clients/), 0, '... and gone when it leaves');

# Redis down
$s->stop_redis;
$s->wait_until(sub { ($m) = scrape(); sum_of($m, qr/^mam_redis_up\{/) == 0 }, 5, 'redis down');
is(sum_of($m, qr/^mam_redis_up\{/), 0, 'Redis down shows as 0');
$s->start_redis;
$s->wait_until(sub { ($m) = scrape(); sum_of($m, qr/^mam_redis_up\{/) == 2 }, 15, 'redis up');
is(sum_of($m, qr/^mam_redis_up\{/), 2, '... and 1 again once it is back');

is($s->http(POST => '/metrics')->{status}, 405, 'only GET and HEAD');

# a reload keeps the zone and its counters (and the master survives the
# old workers' exit, which unlocks the zone's pool for them)
($m) = scrape();
my $health = $m->{'mam_http_requests_total{route="GET /api/health",status="200"}'};
my $master = $s->nginx_pid;
$s->reload_nginx;
$s->api(GET => '/api/health');
# (counted in the log phase, which may trail the answer)
eval {
    $s->wait_until(sub {
        ($m) = scrape();
        ($m->{'mam_http_requests_total{route="GET /api/health",status="200"}'} // 0) >= $health + 1;
    }, 5, 'the health request counted');
};
is($m->{'mam_http_requests_total{route="GET /api/health",status="200"}'}, $health + 1,
   'a reload keeps the counters');
ok(kill(0, $master) && (my @w = $s->nginx_workers) == 2, '... and the master and its workers live on');

# transcoderd's own
my $td = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$tdport/metrics");
is($td->{status}, 200, "transcoderd answers on metrics_listen");
my %t = map { /^(\S+) (\S+)$/ ? ($1, $2) : () } grep { !/^#/ } split /\n/, $td->{content};
is($t{'mam_transcoderd_jobs_total{result="ready"}'}, 1, '... one job ready');
is($t{'mam_transcoderd_jobs_total{result="failed"}'}, 0, '... none failed');
is($t{'mam_transcoderd_job_seconds_count'}, 1, '... its duration counted');
cmp_ok($t{'mam_transcoderd_job_seconds_sum'}, '>', 0, '... and summed');
is($t{'mam_transcoderd_jobs_running'}, 0, '... none running now');
is(HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$tdport/other")->{status}, 404,
   '... other paths are 404');

$s->check_error_log;
done_testing();
