#!/usr/bin/perl
# The per-worker PostgreSQL pool under load: 500 concurrent requests on two
# connections per worker all get their own answer; the wait queue is bounded
# in size and in time (503 unavailable), and nothing is lost or mixed up.
#
# PostgreSQL is frozen with SIGSTOP to hold queries in flight: a real server
# that stops answering, which is what fills the queue in production.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX ();
use File::Temp ();
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

sub probes {
    my ($tag, $n) = @_;
    return [ map { { path => "/api/health?probe=$tag$_" } } 1 .. $n ];
}

sub echoed {
    my ($res, $tag, $i) = @_;
    return $res->{status} == 200 && $res->{body} =~ /"probe":"\Q$tag$i\E"/;
}

sub freeze_pg { $_[0]->freeze_postgres($_[1]) }

{
    my $s = Mam::Stack->new(pg_pool_size => 2, workers => 2);
    $s->start;

    my @res = parallel_requests($s->port, probes('a', 500), timeout => 60);
    my $good = grep { echoed($res[$_], 'a', $_ + 1) } 0 .. $#res;
    is($good, 500, '500 concurrent requests, pool of 2: every answer is '
                   . '200 with its own probe');

    # hold every connection busy so all 500 wait in the queues, then let go
    freeze_pg($s, 'STOP');
    my $pid = fork // die;
    if ($pid == 0) { sleep 1.0; freeze_pg($s, 'CONT'); POSIX::_exit(0) }
    @res = parallel_requests($s->port, probes('b', 500), timeout => 60);
    waitpid $pid, 0;
    freeze_pg($s, 'CONT');
    $good = grep { echoed($res[$_], 'b', $_ + 1) } 0 .. $#res;
    is($good, 500, 'with PostgreSQL frozen for a second, all 500 queue and '
                   . 'are answered correctly afterwards');
    my $slow = grep { ($_->{elapsed} // 0) >= 0.9 } @res;
    ok($slow >= 490, "... and they did wait for it ($slow waited)");

    $s->check_error_log;
}

{
    my $s = Mam::Stack->new(pg_pool_size => 1, workers => 1,
                            pg_queue_size => 5, pg_queue_timeout => '500ms');
    $s->start;

    freeze_pg($s, 'STOP');
    my $t0 = time;
    my $pid = fork // die;
    if ($pid == 0) { sleep 2.5; freeze_pg($s, 'CONT'); POSIX::_exit(0) }
    my @res = parallel_requests($s->port, probes('c', 20), timeout => 30);
    waitpid $pid, 0;
    freeze_pg($s, 'CONT');

    my @ok = grep { echoed($res[$_], 'c', $_ + 1) } 0 .. $#res;
    my @unavail = grep { $res[$_]{status} == 503 } 0 .. $#res;
    is(scalar @ok + scalar @unavail, 20, 'every request got 200 or 503');
    is(scalar @ok, 1, 'one query was in flight on the single connection');
    ok(!grep({ $res[$_]{status} == 200 && $res[$_]{elapsed} < 2.4 } @ok),
       '... and it finished only after PostgreSQL resumed');
    is(scalar @unavail, 19, 'the 19 others were refused');
    like($res[$unavail[0]]{body}, qr/"error":"unavailable"/,
         '... with error unavailable');
    my @fast = grep { $res[$_]{elapsed} < 0.4 } @unavail;
    my @timed = grep { $res[$_]{elapsed} >= 0.45 && $res[$_]{elapsed} < 2.0 }
                @unavail;
    is(scalar @fast, 14, '14 over the queue size of 5 were refused at once');
    is(scalar @timed, 5, 'the 5 queued ones timed out after 500ms');

    # and the pool is healthy afterwards
    my $r = $s->http(GET => '/api/health?probe=after');
    is($r->{json}{probe}, 'after', 'the pool works again after the freeze');

    $s->check_error_log;
}

# Two hosts, the first a server that is "starting up" (SQLSTATE 57P03):
# libpq closes that socket and opens one to the next host in a later
# PQconnectPoll step, and the new socket usually gets the same descriptor
# number.  The pool must see a new socket (not the one it registered with
# epoll) or the connection hangs or fails for ever.
{
    my $fake = File::Temp::tempdir('mam-fakepg-XXXXXX', DIR => '/tmp', CLEANUP => 1);
    chmod 0755, $fake;
    my $listener = IO::Socket::UNIX->new(Local => "$fake/.s.PGSQL.5432",
                                         Type => SOCK_STREAM, Listen => 64) or die $!;
    chmod 0777, "$fake/.s.PGSQL.5432";
    my $served = File::Temp->new;
    my $pid = fork // die;
    if ($pid == 0) {
        my $n = 0;
        while (my $c = $listener->accept) {
            sysread $c, my $startup, 8192;      # the startup packet, ignored
            my $fields = join '', map { "$_\0" } 'SFATAL', 'VFATAL', 'C57P03',
                                                 'Mthe database system is starting up';
            syswrite $c, 'E' . pack('N', 4 + length($fields) + 1) . $fields . "\0";
            close $c;
            open my $fh, '>', "$served" or die;
            print $fh ++$n;
            close $fh;
        }
        POSIX::_exit(0);
    }
    close $listener;

    my $s = Mam::Stack->new(pg_pool_size => 1, workers => 1, pg_first_host => $fake,
                            pg_queue_timeout => '2s');
    $s->start;
    my @res = parallel_requests($s->port, probes('h', 20), timeout => 30);
    my $good = grep { echoed($res[$_], 'h', $_ + 1) } 0 .. $#res;
    is($good, 20, 'first host refuses (57P03): the pool connects to the second host');

    # the connection is cut: its descriptor is the lowest free one, so the
    # reconnection's first socket (to the refusing host) and its second
    # (to the real one) both get that number
    for my $round (1 .. 3) {
        $s->psql_as('postgres', 'postgres',
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mam'");
        $s->wait_until(sub { ($s->http(GET => '/api/health?deep=1')->{status} // 0) == 200 }, 10,
                       "no reconnection (round $round)");
    }
    pass('after three cuts the pool reconnects each time through the refusing host');
    @res = parallel_requests($s->port, probes('i', 20), timeout => 30);
    $good = grep { echoed($res[$_], 'i', $_ + 1) } 0 .. $#res;
    is($good, 20, '... and answers');
    cmp_ok(do { open my $fh, '<', "$served" or die; scalar <$fh> }, '>=', 4,
           '... the first host turned down each connection');
    $s->check_error_log;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

# Queries blocked on a lock (PostgreSQL otherwise fine).  One whose client
# waits: 503 after mam_pg_query_timeout.  One whose client leaves: the
# request ends at once (499, as nginx's proxy does), the query is let go,
# and its connection is closed after mam_pg_query_timeout so the pool slot
# comes back while the lock is still held.
{
    my $s = Mam::Stack->new(pg_pool_size => 1, workers => 1, pg_query_timeout => '2s',
                            pg_queue_timeout => '1s');
    $s->start;
    my $lock = sub {
        my $pid = fork // die;
        if ($pid == 0) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>&', \*STDOUT;
            exec 'psql', '-X', '-q', '-h', $s->pg_socket_dir, '-U', 'postgres', '-d', 'mam', '-c',
                 'BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;'
                or POSIX::_exit(127);
        }
        $s->wait_until(sub { $s->psql_as('postgres', 'mam',
            "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted "
            . "AND relation = 'users'::regclass") =~ /1/ }, 10, 'lock not taken');
        return $pid;
    };
    # end the lock's backend itself: killing psql alone would leave it
    # holding the lock until pg_sleep ends
    my $unlock = sub {
        my ($pid) = @_;
        $s->psql_as('postgres', 'postgres', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    . "WHERE query LIKE '%LOCK TABLE users%' AND pid <> pg_backend_pid()");
        waitpid $pid, 0;
    };
    my $login = sub {
        my $k = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
        my $body = '{"email":"someone@example.com","password":"correct horse battery"}';
        print $k "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               . "Connection: close\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
        return $k;
    };

    my $locker = $lock->();
    my $t0 = time;
    my $k = $login->();
    local $/;
    my $answer = <$k> // '';
    my $took = time - $t0;
    like($answer, qr{^HTTP/1\.1 503}, 'a query blocked on a lock past mam_pg_query_timeout: 503');
    cmp_ok($took, '>=', 1.9, sprintf('... after the timeout (%.1fs)', $took));
    my $h = $s->http(GET => "/api/health?deep=1");
    is($h->{status}, 200, "... and the pool answers again while the lock is still held")
        or diag($h->{content}, "\n", join "\n", grep { /mam/ } split /\n/, $s->error_log_text);
    $unlock->($locker);

    $locker = $lock->();
    $k = $login->();
    sleep 0.5;
    close $k;                                   # the client leaves
    $s->wait_until(sub { $s->slurp($s->prefix . '/logs/access.log') =~ m{"POST /auth/login HTTP/1\.1" 499 } },
                   5, 'no 499');
    pass('a client that leaves while its query is blocked ends the request at once (499)');
    sleep 2;
    is($s->http(GET => '/api/health?deep=1')->{status}, 200,
       'the abandoned query gives its pool slot back after mam_pg_query_timeout, lock still held');
    like($s->error_log_text, qr/abandoned postgres query still running/, '... and says so');
    $unlock->($locker);
    $s->check_error_log;
}

done_testing();
