#!/usr/bin/perl
# API list (operations.md, Benchmarks): GET /api/assets?limit=24 with a JWT
# over 10,000 assets, wrk with 64 connections, next to pgbench running the
# function behind it (the same SQL) with 64 clients straight against
# PostgreSQL.  Bar: the API reaches at least half the raw query rate.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Mam::Stack;

my $ASSETS = $ENV{BENCH_ASSETS} // 10_000;
my $SECONDS = $ENV{BENCH_SECONDS} // 10;
my $CONNS = 64;
my $RUNS = $ENV{BENCH_RUNS} // 3;

for my $tool ('wrk', "$Mam::Stack::PGBIN/pgbench") {
    die "api-list: $tool is missing (make deps)\n" unless -x $tool || `which $tool 2>/dev/null`;
}

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2);
$s->start;
my $login = $s->register('bench@example.com');
my $uid = $login->{user}{id};
$s->psql("INSERT INTO assets (user_id, title, description)
          SELECT '$uid', 'Asset ' || g, 'generated asset number ' || g
          FROM generate_series(1, $ASSETS) g");
$s->psql('ANALYZE');

my $sql = q{SELECT mam_asset_list(NULL, '-created_at', 24, NULL, NULL)};
my $script = $s->data_dir . '/bench.sql';
$s->write_file($script, "$sql;\n");

sub median { my @v = sort { $a <=> $b } @_; return $v[ $#v / 2 ] }

sub wrk_run {
    my $out = `wrk -t 2 -c $CONNS -d ${SECONDS}s --latency -H 'Authorization: Bearer $login->{access_token}' '${\ $s->url('/api/assets?limit=24')}' 2>&1`;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p50) = $out =~ /^\s+50%\s+([\d.]+\w+)/m;
    my ($p99) = $out =~ /^\s+99%\s+([\d.]+\w+)/m;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    die "wrk: $out" unless $rps;
    die "api-list: $non2xx non-2xx answers\n$out" if $non2xx;
    return ($rps, $p50, $p99);
}

sub pgbench_run {
    my ($rc, $out) = $s->run_quiet("$Mam::Stack::PGBIN/pgbench", '-n', '-h', $s->pg_socket_dir,
        '-U', 'mam', '-c', $CONNS, '-j', 2, '-T', $SECONDS, '-f', $script, 'mam');
    my ($tps) = $out =~ /tps = ([\d.]+)/;
    die "pgbench: $out" unless $tps;
    return $tps;
}

# warm both, then alternate runs so both see the same machine state
wrk_run();
my (@api, @p50, @p99, @raw);
for (1 .. $RUNS) {
    my ($rps, $p50, $p99) = wrk_run();
    push @api, $rps; push @p50, $p50; push @p99, $p99;
    push @raw, pgbench_run();
}

my ($api, $raw) = (median(@api), median(@raw));
my $ratio = $api / $raw;
printf "ROW api list|GET /api/assets?limit=24, %d assets, %d connections (req/s)|%.0f|%.0f (pgbench, same SQL)|%s\n",
    $ASSETS, $CONNS, $api, $raw, $ratio >= 0.5 ? sprintf('pass (%.2fx)', $ratio) : sprintf('FAIL (%.2fx)', $ratio);
printf "ROW api list|latency p50 / p99|%s / %s||\n", $p50[$#p50 / 2], $p99[$#p99 / 2];
$s->teardown;
exit($ratio >= 0.5 ? 0 : 1);
