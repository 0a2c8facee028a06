#!/usr/bin/perl
# Login storm (operations.md, Benchmarks): 32 clients log in back to back
# for 10 s while one client measures /api/health, first quiet, then during
# the storm.  Argon2 runs on the thread pool, so the event loop keeps
# answering: the storm p99 of /api/health must stay below the median login.
#
# Prints "ROW <benchmark>|<measure>|<value>|<baseline>|<verdict>" lines for
# bench/run; run alone it is readable as is.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use Time::HiRes qw(time);
use Mam::Stack;
use Mam::Load qw(collect pct health_prober login_client);

my $CLIENTS = $ENV{STORM_CLIENTS} // 32;
my $SECONDS = $ENV{STORM_SECONDS} // 10;
my $QUIET   = $ENV{QUIET_SECONDS} // 5;
my $PW = 'correct horse battery';

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2);
$s->start;
$s->register("storm$_\@example.com", no_login => 1) for 1 .. $CLIENTS;

my @quiet = collect(health_prober($s, time + $QUIET, 0.005));
my $until = time + $SECONDS;
my @kids = map { login_client($s, "storm$_\@example.com", $PW, $until) } 1 .. $CLIENTS;
my $probe = health_prober($s, $until, 0.005);
my @storm = collect($probe);
my @logins = collect(@kids);

my $median_login = pct(50, @logins);
my $p99_storm = pct(99, @storm);
my $ms = sub { sprintf '%.1f ms', 1000 * $_[0] };

printf "ROW login storm|median login (%d clients, %d logins, %.1f/s)|%s||\n",
    $CLIENTS, scalar @logins, @logins / $SECONDS, $ms->($median_login);
printf "ROW login storm|/api/health p50 / p99 quiet|%s / %s||\n",
    $ms->(pct(50, @quiet)), $ms->(pct(99, @quiet));
printf "ROW login storm|/api/health p50 / p99 in storm|%s / %s|%s (median login)|%s\n",
    $ms->(pct(50, @storm)), $ms->($p99_storm), $ms->($median_login),
    $p99_storm < $median_login ? 'pass' : 'FAIL';
$s->teardown;
exit($p99_storm < $median_login ? 0 : 1);
