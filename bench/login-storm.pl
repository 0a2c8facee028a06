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
use lib "$FindBin::Bin/../t/lib";
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time);
use Mam::Stack;

my $CLIENTS = $ENV{STORM_CLIENTS} // 32;
my $SECONDS = $ENV{STORM_SECONDS} // 10;
my $QUIET   = $ENV{QUIET_SECONDS} // 5;
my $PW = 'correct horse battery';

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2);
$s->start;
$s->register("storm$_\@example.com", no_login => 1) for 1 .. $CLIENTS;

# run $code in a child until $until; returns a handle to its output
sub child {
    my ($code) = @_;
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        print $w join("\n", $code->()), "\n";
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    return { pid => $pid, fh => $r };
}

sub collect {
    my @out;
    for my $c (@_) {
        my $fh = $c->{fh};
        push @out, grep { length } map { chomp; $_ } <$fh>;
        waitpid $c->{pid}, 0;
    }
    return sort { $a <=> $b } @out;
}

sub prober {
    my ($until) = @_;
    return child(sub {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
        my @t;
        while (time < $until) {
            my $t0 = time;
            my $res = $ua->get($s->url('/api/health'));
            die "health: $res->{status}\n" unless $res->{status} == 200;
            push @t, time - $t0;
            select undef, undef, undef, 0.005;
        }
        return @t;
    });
}

sub login_client {
    my ($n, $until) = @_;
    return child(sub {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
        my $body = qq({"email":"storm$n\@example.com","password":"$PW"});
        my @t;
        while (time < $until) {
            my $t0 = time;
            my $res = $ua->post($s->url('/auth/login'),
                { headers => { 'Content-Type' => 'application/json' }, content => $body });
            die "login: $res->{status} $res->{content}\n" unless $res->{status} == 200;
            push @t, time - $t0;
        }
        return @t;
    });
}

sub pct {
    my ($p, @sorted) = @_;
    return $sorted[ int($p / 100 * $#sorted + 0.5) ];
}

my @quiet = collect(prober(time + $QUIET));
my $until = time + $SECONDS;
my @kids = map { login_client($_, $until) } 1 .. $CLIENTS;
my $probe = prober($until);
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
