#!/usr/bin/perl
# Edge (operations.md, Benchmarks): a signed 1 MiB segment through the
# module vs the same file from a plain static location of the same nginx,
# wrk with 64 connections, runs alternating.  Bar: >= 0.95x the static rate.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use File::Path qw(make_path);
use Mam::Stack;

my $SECONDS = $ENV{BENCH_SECONDS} // 10;
my $RUNS = $ENV{BENCH_RUNS} // 5;    # its median is noisy on 2 shared cores
my $CONNS = 64;

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2);
$s->start;
my $E = $s->register('bench@example.com')->{access_token};
my $asset = $s->create_asset($E);
my $v = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $E)->{json}{version}{id};
$s->psql("WITH j AS (INSERT INTO preview_jobs (version_id, status) VALUES ('$v', 'ready') RETURNING id)
          UPDATE versions SET preview_job_id = (SELECT id FROM j) WHERE id = '$v'");
my $dir = $s->data_dir . "/storage/previews/$asset->{id}/$v/720p";
make_path($dir);
$s->write_file("$dir/segment_000.ts", 'x' x (1 << 20));
my $url = $s->api(POST => '/api/sign-preview', { asset_id => $asset->{id}, ttl_sec => 3600 },
                  token => $E)->{json}{url};
$url =~ s{index\.m3u8$}{720p/segment_000.ts};
my $plain = "/plain/$asset->{id}/$v/720p/segment_000.ts";

sub rate {
    my ($path) = @_;
    my $out = `wrk -t 2 -c $CONNS -d ${SECONDS}s '${\ $s->url($path)}' 2>&1`;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    die "wrk: $out" unless $rps;
    die "edge bench: non-2xx answers\n$out" if $out =~ /Non-2xx/;
    return $rps;
}
sub median { my @v = sort { $a <=> $b } @_; return $v[ $#v / 2 ] }

rate($url);
my (@signed, @static);
for (1 .. $RUNS) { push @signed, rate($url); push @static, rate($plain) }
my ($a, $b) = (median(@signed), median(@static));
my $ratio = $a / $b;
printf "ROW edge|signed 1 MiB segment, %d connections (req/s)|%.0f|%.0f (plain static location)|%s\n",
    $CONNS, $a, $b, sprintf('%s (%.3fx)', $ratio >= 0.95 ? 'pass' : 'FAIL', $ratio);
$s->teardown;
exit($ratio >= 0.95 ? 0 : 1);
