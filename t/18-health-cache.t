#!/usr/bin/perl
# /api/health without a token answers from a probe cached for about a
# second per worker: a flood costs no query or PING per request, a hung
# PostgreSQL still turns it to 503 within about two seconds, and the live
# probe (?deep=1, ?probe=) is only for the addresses of
# mam_health_deep_allow.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use Mam::Stack;

my $s = Mam::Stack->new(workers => 1, pg_query_timeout => '4s');
$s->start;

sub pings {
    my ($n) = $s->redis_cli(qw(INFO commandstats)) =~ /^cmdstat_ping:calls=(\d+)/m;
    return $n // 0;
}

sub health { $s->http(GET => $_[0] // '/api/health') }

# --- a flood: at most one probe per worker and second ---------------------
is(health()->{status}, 200, 'healthy');
my $before = pings();
my $t0 = time;
my $ok = 0;
$ok += (health()->{status} == 200) for 1 .. 200;
my $took = time - $t0;
my $probes = pings() - $before;
is($ok, 200, '200 plain health requests are 200');
cmp_ok($probes, '<=', int($took) + 3,
       sprintf('... and cost %d Redis PINGs in %.1f s (one worker)', $probes, $took));

$before = pings();
health('/api/health?deep=1') for 1 .. 5;
cmp_ok(pings() - $before, '>=', 5, '?deep=1 probes live every time');
my $r = health('/api/health?deep=1');
is_deeply([ @{ $r->{json} }{qw(status postgres redis)} ], [qw(ok ok ok)],
          '... with the same answer');
is(health('/api/health?deep=2')->{status}, 400, '?deep=2 is 400');
is(health('/api/health?deep=0')->{status}, 200, '?deep=0 is the plain check');

# --- a hung PostgreSQL ---------------------------------------------------
sleep 1.2;                                   # the cache is stale:
is(health()->{status}, 200, 'a fresh probe');  # this request refreshed it
$s->freeze_postgres('STOP');
$t0 = time;
$r = health();
is($r->{status}, 200, 'PostgreSQL frozen: the cached answer within the second');
cmp_ok(time - $t0, '<', 0.5, '... at once');

# past the cache, the next request probes and waits for the hung query
sleep 1.2;
my $k = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $k "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
sleep 0.3;
$t0 = time;
$r = health();
is($r->{status}, 200, 'while that probe is out (under a second): the last answer');
cmp_ok(time - $t0, '<', 0.5, '... at once');
sleep 1;
$t0 = time;
$r = health();
is($r->{status}, 503, 'the probe out for over a second: 503');
cmp_ok(time - $t0, '<', 0.5, '... at once, not after mam_pg_query_timeout');
is($r->{json}{postgres}, 'down', '... postgres: down');
is($r->{json}{redis}, 'ok', '... redis: ok');
is($r->{json}{error}, 'unavailable', '... error: unavailable');

my ($answer, $sel, $deadline) = ('', IO::Select->new($k), time + 10);
while (time < $deadline && $sel->can_read($deadline - time)) {
    sysread($k, my $chunk, 65536) or last;
    $answer .= $chunk;
}
like($answer, qr{^HTTP/1\.1 503}, 'the probing request: 503 after mam_pg_query_timeout');

$s->freeze_postgres('CONT');
$s->wait_until(sub { health()->{status} == 200 }, 15, 'health back to 200');
pass('PostgreSQL back: 200 again');

# --- the live probe is for the allowed addresses only --------------------
$s->restart_nginx(health_deep_allow => '10.0.0.0/8 ::1/128');
$r = health('/api/health?deep=1');
is($r->{status}, 403, '?deep=1 from an address not allowed: 403');
is($r->{json}{error}, 'forbidden', '... forbidden');
is(health('/api/health?probe=x')->{status}, 403, '... and so is ?probe=');
is(health()->{status}, 200, 'the plain check still answers');

$s->restart_nginx(health_deep_allow => undef);
is(health('/api/health?deep=1')->{status}, 403, 'no mam_health_deep_allow: no deep check');

$s->check_error_log;
done_testing();
