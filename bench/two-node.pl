#!/usr/bin/perl
# Two nodes against one (issue 23; docs/deployment.md's model): the API
# list (GET /api/assets?limit=24 over 10,000 assets, as bench/api-list.pl)
# and the edge (a signed 1 MiB segment, as bench/edge.pl) served by two
# nodes of 2 workers each on one PostgreSQL and one Redis (Mam::Stack
# attach), wrk's 64 connections split between them, against one node of
# 2 workers and one node of 4 (as many workers and PostgreSQL connections
# as the two together); the runs alternate.  Beside the rates, what each
# request costs the shared services, the inputs of the growth model:
# PostgreSQL CPU and Redis commands per list request (from /proc and
# INFO), nginx CPU per request, and the edge's bytes per second.
#
# On one machine the nodes share its cores, so two cannot serve more than
# one: the bar is that splitting the same workers over two nodes costs
# nothing in coordination (>= 0.8x of the one node of 4 workers).  What a
# second host adds is in the model.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Mam::Stack;
use Mam::Bench qw(seed_assets alternate verdict);

my $ASSETS = $ENV{BENCH_ASSETS} // 10_000;
my $LIST = '/api/assets?limit=24';
my $CONNS = $Mam::Bench::CONNS;
my $SECONDS = $Mam::Bench::SECONDS;
my $HZ = 100;    # /proc's clock ticks (sysconf(_SC_CLK_TCK) on Linux)

my $A = Mam::Stack->new(rate_limits => 'off', workers => 2);
$A->start;
my $B = Mam::Stack->new(rate_limits => 'off', workers => 2, attach => $A);
$B->start;
my $C = Mam::Stack->new(rate_limits => 'off', workers => 4, attach => $A);
$C->start;

$A->register('admin@example.com');
my $login = $A->register('bench@example.com');
my $T = $login->{access_token};
seed_assets($A, $login->{user}{id}, $ASSETS, versions => 1);
$A->psql('ANALYZE');

# the edge's segment, as bench/edge.pl makes it
my $asset = $A->create_asset($T);
my $v = $A->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $T)->{json}{version}{id};
$A->psql("WITH j AS (INSERT INTO preview_jobs (version_id, status) VALUES ('$v', 'ready') RETURNING id)
          UPDATE versions SET preview_job_id = (SELECT id FROM j) WHERE id = '$v'");
my $dir = $A->storage_root . "/previews/$asset->{id}/$v/720p";
make_path($dir);
$A->write_file("$dir/segment_000.ts", 'x' x (1 << 20));
my $seg = $A->api(POST => '/api/sign-preview', { asset_id => $asset->{id}, ttl_sec => 3600 },
                  token => $T)->{json}{url};
$seg =~ s{index\.m3u8$}{720p/segment_000.ts};
for my $n ($A, $B, $C) {
    for my $path ($LIST, $seg) {
        my $r = $n->http(GET => $path, { headers => { Authorization => "Bearer $T" } });
        die "two-node: $path on port @{[ $n->port ]}: $r->{status}\n" unless $r->{status} == 200;
    }
}

# CPU seconds so far of a set of processes
sub ticks {
    my $t = 0;
    for my $pid (@_) {
        my $stat = $A->slurp("/proc/$pid/stat") or next;
        $stat =~ s/^.*\) //;
        my @f = split ' ', $stat;
        $t += $f[11] + $f[12];    # utime, stime
    }
    return $t / $HZ;
}
sub postgres_pids { my $pm = $A->postgres_pid; return ($pm, split ' ', `pgrep -P $pm`) }
sub redis_pid { $A->{redis_pid} }
sub redis_commands { ($A->redis_cli('INFO', 'stats') =~ /total_commands_processed:(\d+)/)[0] }

# wrk on each URL at once, the connections split between them: {rps,
# mbps, pg, redis_cpu, nginx, cmds} (the last four per request)
sub spread {
    my ($path, $nodes, %o) = @_;
    my $secs = $o{seconds} // $SECONDS;
    my $conns = int($CONNS / @$nodes);
    my @pg = postgres_pids();
    my @ngx = map { $_->nginx_workers } @$nodes;
    my ($pg0, $rd0, $ng0, $c0) = (ticks(@pg), ticks(redis_pid()), ticks(@ngx), redis_commands());
    my @fh = map {
        open my $fh, '-|', "wrk -t 1 -c $conns -d ${secs}s -H 'Authorization: Bearer $T' '"
            . $_->url($path) . "' 2>&1" or die "wrk: $!";
        $fh } @$nodes;
    my ($rps, $bytes) = (0, 0);
    for my $fh (@fh) {
        my $out = do { local $/; <$fh> };
        close $fh;
        my ($r) = $out =~ /Requests\/sec:\s+([\d.]+)/;
        my ($tr, $unit) = $out =~ /Transfer\/sec:\s+([\d.]+)(\w+)/;
        die "two-node: wrk: $out" unless $r;
        die "two-node: non-2xx answers\n$out" if $out =~ /Non-2xx/;
        $rps += $r;
        $bytes += $tr * { B => 1, KB => 1 << 10, MB => 1 << 20, GB => 1 << 30 }->{$unit};
    }
    my $n = $rps * $secs;
    return { rps => $rps, mbps => $bytes / (1 << 20),
             pg => (ticks(@pg) - $pg0) / $n * 1000, redis_cpu => (ticks(redis_pid()) - $rd0) / $n * 1000,
             nginx => (ticks(@ngx) - $ng0) / $n * 1000, cmds => (redis_commands() - $c0) / $n };
}

my $r = alternate(
    list_one => sub { spread($LIST, [$A], @_) },
    list_two => sub { spread($LIST, [$A, $B], @_) },
    list_four => sub { spread($LIST, [$C], @_) },
    edge_one => sub { spread($seg, [$A], @_) },
    edge_two => sub { spread($seg, [$A, $B], @_) },
    edge_four => sub { spread($seg, [$C], @_) },
);
my ($l1, $l2, $l4, $e1, $e2, $e4) = @$r{qw(list_one list_two list_four edge_one edge_two edge_four)};
my ($vl, $okl) = verdict($l2->{rps}, $l4->{rps}, 0.8);
my ($ve, $oke) = verdict($e2->{rps}, $e4->{rps}, 0.8);
my $cores = () = `cat /proc/cpuinfo` =~ /^processor/mg;
printf "ROW two nodes|api list, two nodes of 2 workers, %d connections (req/s)|%.0f|%.0f (one node of 4 workers)|%s\n",
    $CONNS, $l2->{rps}, $l4->{rps}, $vl;
printf "ROW two nodes|api list, one node of 2 workers (req/s)|%.0f|%.2fx of it (two nodes)|\n",
    $l1->{rps}, $l2->{rps} / $l1->{rps};
printf "ROW two nodes|edge: signed 1 MiB segment, two nodes of 2 workers (req/s, MiB/s)|%.0f, %.0f MiB/s|%.0f, %.0f MiB/s (one node of 4 workers)|%s\n",
    $e2->{rps}, $e2->{mbps}, $e4->{rps}, $e4->{mbps}, $ve;
printf "ROW two nodes|edge, one node of 2 workers (req/s)|%.0f|%.2fx of it (two nodes)|\n",
    $e1->{rps}, $e2->{rps} / $e1->{rps};
printf "ROW two nodes|per list request: PostgreSQL CPU, nginx CPU, Redis CPU (ms)|%.3f, %.3f, %.3f|%.3f, %.3f, %.3f (one node of 2 workers)|\n",
    @$l2{qw(pg nginx redis_cpu)}, @$l1{qw(pg nginx redis_cpu)};
printf "ROW two nodes|per list request: Redis commands|%.2f|%.2f (one node of 2 workers)|\n", $l2->{cmds}, $l1->{cmds};
printf "ROW two nodes|per edge request: nginx CPU (ms), Redis commands|%.3f, %.2f|%.3f, %.2f (one node of 2 workers)|\n",
    @$e2{qw(nginx cmds)}, @$e1{qw(nginx cmds)};
printf "ROW two nodes|machine: cores, load average at the end|%d, %s||\n", $cores,
    join(' ', (split ' ', $A->slurp('/proc/loadavg'))[0 .. 2]);
$_->teardown for $C, $B, $A;
exit($okl && $oke ? 0 : 1);
