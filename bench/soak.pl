#!/usr/bin/perl
# Soak (issue 11): mixed traffic for SOAK_SECONDS (600 by default): API
# reads and writes (list, get, comments, sign-preview, preview status),
# SSE clients that come and go, and signed segment downloads with ranges.
# The data set stays the same size (each comment written is deleted), so
# the workers' RSS and open file descriptors, taken under load after a
# warm-up and again near the end, must stay flat; no answer may be a 5xx.
#
# Prints "ROW" lines for bench/run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use File::Path qw(make_path);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
use Mam::Stack;

my $SECONDS = $ENV{SOAK_SECONDS} // 600;
my $CLIENTS = $ENV{SOAK_CLIENTS} // 6;

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2, events_ping => '1s');
$s->start;
my $E = $s->register('soak@example.com')->{access_token};

# a few assets, one with a ready preview to stream
my @aids = map { $s->create_asset($E, title => "soak $_")->{id} } 1 .. 5;
my $v = $s->api(POST => '/api/promote', { asset_id => $aids[0] }, token => $E)->{json}{version}{id};
$s->psql("WITH j AS (INSERT INTO preview_jobs (version_id, status) VALUES ('$v', 'ready') RETURNING id)
          UPDATE versions SET preview_job_id = (SELECT id FROM j) WHERE id = '$v'");
my $dir = $s->data_dir . "/storage/previews/$aids[0]/$v/360p";
make_path($dir);
$s->write_file("$dir/segment_000.ts", 'x' x (256 * 1024));

sub worker_stats {
    my ($rss, $fds) = (0, 0);
    for my $pid ($s->nginx_workers) {
        $rss += ($s->slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m)[0] // 0;
        opendir my $dh, "/proc/$pid/fd" or next;
        $fds += grep { /^\d+$/ } readdir $dh;
    }
    return ($rss, $fds);
}

# one client: a loop of mixed requests; prints "status count" lines
sub client {
    my ($n) = @_;
    my $ua = HTTP::Tiny->new(timeout => 30);
    my %h = (Authorization => "Bearer $E", 'Content-Type' => 'application/json');
    my %count;
    my $end = time + $SECONDS;
    my $i = 0;
    while (time < $end) {
        my $aid = $aids[$i++ % @aids];
        my @reqs = (
            [ GET => '/api/assets?limit=24' ],
            [ GET => "/api/assets/$aid" ],
            [ GET => "/api/assets/$aid/comments" ],
            [ POST => "/api/assets/$aid/comments", qq({"timestamp_sec":1.5,"content":"soak $n $i"}) ],
            [ DELETE => '/api/comments/' ],
            [ GET => "/api/preview/status?asset_id=$aid" ],
            [ POST => '/api/sign-preview', qq({"asset_id":"$aids[0]"}) ],
        );
        my $comment = '';
        for my $r (@reqs) {
            my $path = $r->[0] eq 'DELETE' ? "$r->[1]$comment" : $r->[1];
            my $res = $ua->request($r->[0], $s->url($path),
                                   { headers => \%h, (defined $r->[2] ? (content => $r->[2]) : ()) });
            $count{$res->{status}}++;
            ($comment) = $res->{content} =~ /"id":"([0-9a-f-]{36})"/ if $r->[0] eq 'POST';
            if ($r->[1] eq '/api/sign-preview' && $res->{status} == 200) {
                (my $url = $res->{content}) =~ s/.*"url":"([^"]+)".*/$1/s;
                $url =~ s{index\.m3u8$}{360p/segment_000.ts};
                my $seg = $ua->get($s->url($url), { headers => { Range => 'bytes=1000-99999' } });
                $count{$seg->{status}}++;
            }
        }
        # an SSE client that stays a moment, then leaves
        if ($i % 10 == 0) {
            my $k = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port);
            if ($k) {
                print $k "GET /api/preview/events?asset_id=$aid HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $E\r\n\r\n";
                sleep 0.2;
                close $k;
            }
        }
    }
    return map { "$_ $count{$_}" } keys %count;
}

my $WARMUP = $SECONDS >= 120 ? 60 : int($SECONDS / 4);
my $t0 = time;

my @kids;
for my $n (1 .. $CLIENTS) {
    pipe my $r, my $w or die;
    my $pid = fork // die;
    if ($pid == 0) { close $r; print $w join("\n", client($n)), "\n"; close $w; POSIX::_exit(0) }
    close $w;
    push @kids, [ $pid, $r ];
}
# both taken under load: after the warm-up, and just before the end
sleep $WARMUP;
my ($rss0, $fds0) = worker_stats();
print STDERR "soak: start: workers' RSS $rss0 KiB, open fds $fds0\n";
sleep $SECONDS - (time - $t0) - 3;
my ($rss1, $fds1) = worker_stats();
print STDERR "soak: end:   workers' RSS $rss1 KiB, open fds $fds1\n";

my %total;
for my $k (@kids) {
    my $fh = $k->[1];
    while (<$fh>) { my ($st, $c) = split; $total{$st} += $c }
    waitpid $k->[0], 0;
}

print STDERR "soak: answers: ", join(', ', map { "$_: $total{$_}" } sort keys %total), "\n";
my $requests = 0;
$requests += $_ for values %total;
my $fives = 0;
$fives += $total{$_} for grep { $_ >= 500 } keys %total;
my $rss_ok = $rss1 <= $rss0 * 1.25 + 8192;
my $fds_ok = $fds1 <= $fds0 + 4;

printf "ROW soak|%d s, %d clients: requests (5xx)|%d (%d)|0 5xx|%s\n",
    $SECONDS, $CLIENTS, $requests, $fives, $fives ? 'FAIL' : 'pass';
printf "ROW soak|workers' RSS start / end|%d / %d KiB|flat (<= 1.25x + 8 MiB)|%s\n",
    $rss0, $rss1, $rss_ok ? 'pass' : 'FAIL';
printf "ROW soak|workers' open fds start / end|%d / %d|flat (<= +4)|%s\n",
    $fds0, $fds1, $fds_ok ? 'pass' : 'FAIL';
$s->teardown;
exit(($fives || !$rss_ok || !$fds_ok) ? 1 : 0);
