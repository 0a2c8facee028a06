package Mam::Bench;
# What the API read benchmarks (api-list.pl, api-reads.pl) share: a data
# set, wrk and pgbench runs, runs that alternate, and the verdict.
use strict;
use warnings;
use Exporter 'import';
use Mam::Stack;

our @EXPORT_OK = qw(seed_assets bare_page wrk_run pgbench_run alternate median verdict);

our $SECONDS = $ENV{BENCH_SECONDS} // 10;
our $RUNS = $ENV{BENCH_RUNS} // 3;
our $CONNS = 64;

for my $tool ('wrk', "$Mam::Stack::PGBIN/pgbench") {
    die "bench: $tool is missing (make deps)\n" unless -x $tool || `which $tool 2>/dev/null`;
}

# $n live assets of user $uid, each as POST /api/assets and a finished
# transcode leave it: version 1 with metadata and a ready preview job with
# the four renditions (versions => 0: assets alone, the data set of the
# api list runs before issue 16).  Creation times a second and a bit apart,
# so that the keyset page and its cursor see distinct microseconds.
sub seed_assets {
    my ($s, $uid, $n, %o) = @_;
    my $versions = $o{versions} // 1 ? 1 : 0;
    $s->psql(<<"EOT");
INSERT INTO assets (user_id, title, description, version_count, created_at, updated_at)
SELECT '$uid', 'Asset ' || g, 'generated asset number ' || g, $versions, t, t
  FROM generate_series(1, $n) g,
       LATERAL (SELECT now() - g * interval '1.000137 second' AS t) x;
EOT
    return unless $versions;
    $s->psql(<<"EOT");
INSERT INTO versions (asset_id, number, master_key, size, metadata, created_by, created_at)
SELECT id, 1, 'masters/' || id || '/1/clip.mp4', 48000000 + length(title),
       '{"duration_sec": 30.0, "width": 1920, "height": 1080, "video_codec": "h264",
         "audio_codec": "aac", "frame_rate": 25, "bit_rate": 8000000, "rotation": 0,
         "container": "mov,mp4,m4a,3gp,3g2,mj2", "encoder": "libx264"}',
       user_id, created_at
  FROM assets;
INSERT INTO preview_jobs (version_id, status, progress, renditions, created_at, updated_at)
SELECT id, 'ready', 1,
       '[{"name": "360p", "width": 640, "height": 360, "bandwidth": 812000},
         {"name": "480p", "width": 854, "height": 480, "bandwidth": 1530000},
         {"name": "720p", "width": 1280, "height": 720, "bandwidth": 3710000},
         {"name": "1080p", "width": 1920, "height": 1080, "bandwidth": 7260000}]',
       created_at, created_at + interval '41.5 seconds'
  FROM versions;
UPDATE versions v SET preview_job_id = j.id FROM preview_jobs j WHERE j.version_id = v.id;
EOT
}

# the pgbench script of the bare keyset page, the lists' baseline: the 24
# newest live assets' id, title, description and created_at as JSON, the
# least SQL that can answer; returns its path
sub bare_page {
    my ($s) = @_;
    my $path = $s->data_dir . '/bare-page.sql';
    $s->write_file($path, <<'EOT');
SELECT coalesce(json_agg(json_build_object('id', id, 'title', title,
         'description', description, 'created_at', created_at)), '[]')
  FROM (SELECT id, title, description, created_at FROM assets
         WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 24) a;
EOT
    return $path;
}

sub median { my @v = sort { $a <=> $b } @_; return $v[ $#v / 2 ] }

# wrk's "850.00us", "48.96ms", "1.20s" in ms
sub ms {
    my ($t) = @_;
    my ($v, $unit) = $t =~ /^([\d.]+)(us|ms|s|m)$/ or die "wrk: a latency of $t\n";
    return $v * { us => 0.001, ms => 1, s => 1000, m => 60_000 }->{$unit};
}

# {rps, p50, p99 (ms)} of wrk with $CONNS connections on $url; only 2xx
# answers count, anything else means the benchmark measures an error path
sub wrk_run {
    my ($url, %o) = @_;
    my $auth = $o{token} ? "-H 'Authorization: Bearer $o{token}'" : '';
    my $secs = $o{seconds} // $SECONDS;
    my $out = `wrk -t 2 -c $CONNS -d ${secs}s --latency $auth '$url' 2>&1`;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p50) = $out =~ /^\s+50%\s+([\d.]+\w+)/m;
    my ($p99) = $out =~ /^\s+99%\s+([\d.]+\w+)/m;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    die "wrk $url: $out" unless $rps && $p50 && $p99;
    die "wrk $url: $non2xx non-2xx answers\n$out" if $non2xx;
    return { rps => $rps, p50 => ms($p50), p99 => ms($p99) };
}

# {rps} of pgbench -M prepared with $CONNS clients on 2 threads running
# $script; %o{vars} become -D name=value (pgbench's :name parameters)
sub pgbench_run {
    my ($s, $script, %o) = @_;
    my @vars = map { ('-D', "$_=$o{vars}{$_}") } sort keys %{ $o{vars} // {} };
    my ($rc, $out) = $s->run_quiet("$Mam::Stack::PGBIN/pgbench", '-n', '-M', 'prepared',
        '-h', $s->pg_socket_dir, '-U', 'mam', '-c', $CONNS, '-j', 2,
        '-T', $o{seconds} // $SECONDS, @vars, '-f', $script, 'mam');
    my ($tps) = $out =~ /tps = ([\d.]+)/;
    die "pgbench $script: $out" if $rc || !$tps;
    return { rps => $tps };
}

# (name => sub { run for %o }, ...): a short warm-up run of each, then
# $RUNS rounds running each in turn, so every side sees the same drift of
# a shared machine; returns {name => {rps, p50, p99}}, medians of the runs
sub alternate {
    my @pairs = @_;
    my (@names, %run, %got);
    while (my ($name, $code) = splice @pairs, 0, 2) { push @names, $name; $run{$name} = $code }
    my $warm = $SECONDS < 3 ? $SECONDS : 3;
    $run{$_}->(seconds => $warm) for @names;
    for (1 .. $RUNS) {
        for my $name (@names) {
            my $r = $run{$name}->();
            push @{ $got{$name}{$_} }, $r->{$_} for keys %$r;
        }
    }
    return { map { my $n = $_; $n => { map { $_ => median(@{ $got{$n}{$_} }) } keys %{ $got{$n} } } } @names };
}

# ("pass (0.62x, bar 0.5x)", 1) for $value / $base against $bar
sub verdict {
    my ($value, $base, $bar) = @_;
    my $ratio = $value / $base;
    my $ok = $ratio >= $bar;
    return (sprintf('%s (%.2fx, bar %sx)', $ok ? 'pass' : 'FAIL', $ratio, $bar), $ok);
}

1;
