#!/usr/bin/perl
# PostgreSQL and Redis going away and coming back: 503 naming the component,
# then 200 again by itself, without reloading or restarting nginx.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

# a live probe each time (the plain answer is cached for a second)
sub health { my $r = $s->http(GET => '/api/health?deep=1'); return $r }

sub wait_for {
    my ($want, $max) = @_;
    my $deadline = time + $max;
    my $r;
    while (time < $deadline) {
        $r = health();
        return $r if $want->($r);
        sleep 0.1;
    }
    return $r;
}

sub workers { my $m = $s->nginx_pid; return join ',', sort split ' ', `pgrep -P $m` }

is(health()->{status}, 200, 'healthy at start');
my $master = $s->nginx_pid;
my $workers = workers();

$s->stop_postgres;
my $r = health();
is($r->{status}, 503, 'PostgreSQL stopped: 503');
is($r->{json}{postgres}, 'down', '... postgres: down');
is($r->{json}{redis}, 'ok', '... redis: ok');
is($r->{json}{error}, 'unavailable', '... error: unavailable');
my $t0 = time;
$r = health();
ok(time - $t0 < 1, 'a request while PostgreSQL is down fails fast')
    and is($r->{status}, 503, '... with 503');

$s->start_postgres;
$r = wait_for(sub { $_[0]{status} == 200 }, 10);
is($r->{status}, 200, 'PostgreSQL back: 200 again without a reload');
is($r->{json}{postgres}, 'ok', '... postgres: ok');

$s->stop_redis;
$r = wait_for(sub { $_[0]{status} == 503 }, 5);
is($r->{status}, 503, 'Redis stopped: 503');
is($r->{json}{redis}, 'down', '... redis: down');
is($r->{json}{postgres}, 'ok', '... postgres: ok');

$s->stop_postgres;
$r = health();
is_deeply([ @{ $r->{json} }{qw(postgres redis)} ], [qw(down down)],
          'both down: both named');

$s->start_redis;
$s->start_postgres;
$r = wait_for(sub { $_[0]{status} == 200 }, 10);
is($r->{status}, 200, 'both back: 200');

# every worker recovered, not just the one that answered: each reconnects
# on its own (on a loaded machine one can be a few seconds behind)
my ($ok, $deadline) = (0, time + 15);
while ($ok < 20 && time < $deadline) {
    $ok = health()->{status} == 200 ? $ok + 1 : 0;
    sleep 0.05 unless $ok;
}
is($ok, 20, 'twenty requests in a row are 200 (within 15 s)');

is($s->nginx_pid, $master, 'nginx master was neither restarted nor replaced');
is(workers(), $workers, '... and the workers are the same processes');
$s->check_error_log;
done_testing();
