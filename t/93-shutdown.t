#!/usr/bin/perl
# mam-test: slow
# Graceful shutdown (nginx -s reload / quit) while requests wait on the
# module's back ends.  nginx lets a shutting-down worker exit as soon as no
# timer that matters is left, so a request that waits on PostgreSQL, Redis
# or the thread pool must hold one: otherwise the old worker exits under it
# ("open socket left" alert, the client loses its answer).  The same timers
# bound every wait: mam_pg_query_timeout drops a connection whose query
# hangs, mam_redis_timeout answers a request whose Redis reply is late.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use Mam::Stack;

my $s = Mam::Stack->new(workers => 1, pg_pool_size => 2, rate_limits => 'off',
                        pg_query_timeout => '5s', redis_timeout => '1s');
$s->start;
$s->register('admin@example.com');

# a request sent now, its answer read later
sub send_request {
    my ($method, $path, $body) = @_;
    my $k = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    my $req = "$method $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    $req .= "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n"
        if defined $body;
    print $k $req, "\r\n", $body // '';
    return { sock => $k, sent => time };
}

sub read_answer {
    my ($q, $timeout) = @_;
    my ($got, $sel, $deadline) = ('', IO::Select->new($q->{sock}), time + ($timeout // 15));
    while (time < $deadline) {
        next unless $sel->can_read(0.1);
        my $n = sysread $q->{sock}, my $chunk, 65536;
        last unless $n;
        $got .= $chunk;
    }
    my ($status) = $got =~ m{^HTTP/1\.1 (\d{3})};
    return { status => $status // 0, text => $got, elapsed => time - $q->{sent} };
}

# HUP, then wait until the new worker is up (the old one may stay a while)
sub reload_start {
    my @old = $s->nginx_workers;
    kill 'HUP', $s->nginx_pid;
    $s->wait_until(sub { grep { my $w = $_; !grep { $_ == $w } @old } $s->nginx_workers },
                   20, 'no new worker');
    return @old;
}

sub alive { kill 0, $_[0] }

sub alerts { grep { /\[alert\]|exited on signal/ } split /\n/, $s->error_log_text }

# --- a query in flight when the reload comes ----------------------------------
$s->freeze_postgres('STOP');
my $q = send_request(GET => '/api/health?probe=inflight');
sleep 0.5;
my ($old) = reload_start();
sleep 1;
ok(alive($old), 'the old worker waits for the request whose query is in flight');
$s->freeze_postgres('CONT');
my $a = read_answer($q);
is($a->{status}, 200, 'and the request gets its answer once PostgreSQL resumes');
like($a->{text}, qr/"probe":"inflight"/, '... its own answer');
$s->wait_until(sub { !alive($old) }, 10, 'old worker did not exit');
pass('then the old worker exits');
is_deeply([ alerts() ], [], 'no alert (no socket left open at exit)');

# --- a query that hangs past mam_pg_query_timeout -------------------------------
# the new worker's connections made first: a connection begun while
# PostgreSQL is stopped would wait its own timeout before the query's
$s->wait_until(sub { ($s->http(GET => '/api/health?deep=1')->{status} // 0) == 200 }, 10,
               'the new worker did not reach PostgreSQL');
$s->freeze_postgres('STOP');
$q = send_request(GET => '/api/health?probe=hung');
$a = read_answer($q, 15);
$s->freeze_postgres('CONT');
is($a->{status}, 503, 'a query hung past mam_pg_query_timeout: 503');
like($a->{text}, qr/"error":"unavailable"/, '... error unavailable');
cmp_ok($a->{elapsed}, '>=', 4.9, sprintf('... after the timeout (%.1fs)', $a->{elapsed}));
cmp_ok($a->{elapsed}, '<', 8, '... not much later');
like($s->error_log_text, qr/postgres query timed out/, 'the timeout is logged');
$s->wait_until(sub { ($s->http(GET => '/api/health?deep=1')->{status} // 0) == 200 }, 10,
               'pool did not recover');
pass('the pool reconnects and answers again');

# --- a Redis reply that does not come -------------------------------------------
$s->redis_cli(qw(CLIENT PAUSE 2500 ALL));
my $t0 = time;
my $r = $s->http(GET => '/api/health?deep=1');
my $took = time - $t0;
is($r->{status}, 503, 'Redis paused: health answers 503 after mam_redis_timeout');
is($r->{json}{redis}, 'down', '... redis down');
cmp_ok($took, '>=', 0.9, sprintf('... after the timeout (%.1fs)', $took));
cmp_ok($took, '<', 2.4, '... before Redis resumes');
sleep 2;
is($s->http(GET => '/api/health?deep=1')->{status}, 200, 'Redis back: 200');

# and a reload while the Redis command is pending: answered before exit
$s->redis_cli(qw(CLIENT PAUSE 3000 ALL));
$q = send_request(GET => '/api/health?probe=redis');
sleep 0.3;
($old) = reload_start();
$a = read_answer($q);
is($a->{status}, 503, 'a request waiting on Redis across a reload gets its answer');
like($a->{text}, qr/"probe":"redis"/, '... its own');
$s->wait_until(sub { !alive($old) }, 10, 'old worker did not exit');
sleep 3;

# --- work on the thread pool when the reload comes -------------------------------
# a login of an unknown email costs one Argon2 hash on the pool's threads
# (0.02 to 0.15 s): sixty keep the four threads busy for a second or more,
# with moments where nothing but hashes is in flight.  nginx signals the
# old worker 0.1 s after the new one starts, while they still run.
my @logins = map {
    send_request(POST => '/auth/login',
                 qq({"email":"nobody$_\@example.com","password":"correct horse battery"}))
} 1 .. 60;
($old) = reload_start();
my @st = map { read_answer($_)->{status} } @logins;
is_deeply(\@st, [ (401) x 60 ], 'logins hashing on the thread pool across a reload: all answered');
$s->wait_until(sub { !alive($old) }, 10, 'old worker did not exit');

is_deeply([ alerts() ], [], 'error.log: no alert, no crash');
$s->check_error_log;
done_testing();
