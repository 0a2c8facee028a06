#!/usr/bin/perl
# API reads (issue 16): single reads, each against a baseline from the same
# run, wrk with 64 connections, the two sides' runs alternating:
#
#  - GET /api/assets/:id (an asset with 3 versions) and
#    GET /api/assets/:id/comments (50 comments, the first page of 24)
#    against pgbench -M prepared, 64 clients, of that route's own statement
#    in ngx_mam_sql.h with the same parameters.  Bar: half its rate.
#  - GET /auth/me with a token against GET /api/health without one: what
#    the token, the Redis gate and a user's row cost.  Bar: 0.4x.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use Mam::Stack;
use Mam::Sql qw(sql_text pgbench_text);
use Mam::Bench qw(seed_assets wrk_run pgbench_run alternate verdict);

my $ASSETS = $ENV{BENCH_ASSETS} // 10_000;
my $COMMENTS = 50;

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2);
$s->start;
my $login = $s->register('bench@example.com');
my $uid = $login->{user}{id};
my $token = $login->{access_token};
seed_assets($s, $uid, $ASSETS);

# the newest asset gets versions 2 (ready) and 3 (transcoding) and the
# comments, spread over its clip
chomp(my $id = $s->psql('SELECT id FROM assets ORDER BY created_at DESC LIMIT 1'));
$s->psql(<<"EOT");
INSERT INTO versions (asset_id, number, master_key, size, metadata, created_by, created_at)
SELECT asset_id, n, 'masters/' || asset_id || '/' || n || '/clip.mp4', size + n, metadata,
       created_by, created_at + n * interval '1 hour'
  FROM versions, generate_series(2, 3) n WHERE asset_id = '$id';
INSERT INTO preview_jobs (version_id, status, progress, renditions)
SELECT v.id, CASE v.number WHEN 2 THEN 'ready' ELSE 'processing' END,
       CASE v.number WHEN 2 THEN 1 ELSE 0.4 END,
       CASE v.number WHEN 2 THEN j.renditions ELSE '[]' END
  FROM versions v, versions v1 JOIN preview_jobs j ON j.id = v1.preview_job_id
 WHERE v.asset_id = '$id' AND v.number > 1 AND v1.asset_id = '$id' AND v1.number = 1;
UPDATE versions v SET preview_job_id = j.id FROM preview_jobs j
 WHERE j.version_id = v.id AND v.preview_job_id IS NULL;
UPDATE assets SET version_count = 3 WHERE id = '$id';
INSERT INTO comments (asset_id, version_id, user_id, timestamp_sec, content, created_at)
SELECT '$id', (SELECT id FROM versions WHERE asset_id = '$id' AND number = 3), '$uid',
       g * 0.577, 'comment number ' || g || ' on this take', now() - (60 - g) * interval '1 minute'
  FROM generate_series(1, $COMMENTS) g;
ANALYZE;
EOT

# each route's statement, and the parameters the module sends it on a
# first page (limit + 1, and a position before every comment)
my %stmt = (
    asset    => [ 'NGX_MAM_SQL_ASSET_GET', { p1 => $id, p2 => 'false', p3 => $uid } ],
    comments => [ 'NGX_MAM_SQL_COMMENT_PAGE', { p1 => $id, p2 => 25, p3 => -1,
                  p4 => '-infinity', p5 => '00000000-0000-0000-0000-000000000000',
                  p6 => 'false', p7 => $uid, p8 => '', p9 => 'false' } ],
);
for my $name (keys %stmt) {
    my ($macro, $vars) = @{ $stmt{$name} };
    my $file = $s->data_dir . "/$name.sql";
    $s->write_file($file, pgbench_text(sql_text($macro)));
    push @{ $stmt{$name} }, $file;
}

# what the statements return here: a baseline that finds nothing is cheap
my $count = sub {
    my ($macro, @args) = @_;
    my $sql = sql_text($macro);
    my $n = $s->psql("PREPARE q AS SELECT count(*) FROM ($sql) x; EXECUTE q("
                     . join(', ', map { "'$_'" } @args) . ')');
    return $n + 0;
};
my ($nv, $nc) = ($count->('NGX_MAM_SQL_ASSET_GET', $id, 'false', $uid),
                 $count->('NGX_MAM_SQL_COMMENT_PAGE', $id, 25, -1, '-infinity',
                          '00000000-0000-0000-0000-000000000000', 'false', $uid, '', 'false'));
die "api-reads: the statements return $nv versions and $nc comments, not 3 and 25\n"
    unless $nv == 3 && $nc == 25;
for my $path ("/api/assets/$id", "/api/assets/$id/comments", '/auth/me') {
    my $r = $s->api(GET => $path, undef, token => $token);
    die "api-reads: GET $path: $r->{status} $r->{content}\n" unless $r->{status} == 200;
}

my $module = sub { my $path = shift; sub { wrk_run($s->url($path), token => $token, @_) } };
my $pgbench = sub { my $name = shift; sub { pgbench_run($s, $stmt{$name}[2], vars => $stmt{$name}[1], @_) } };

my (@rows, $ok);
my $pair = sub {
    my ($measure, $path, $base_name, $base, $bar) = @_;
    (my $route = $measure) =~ s/,.*//;
    my $r = alternate(module => $module->($path), base => $base);
    my ($v, $pass) = verdict($r->{module}{rps}, $r->{base}{rps}, $bar);
    push @rows, sprintf "ROW api reads|%s (req/s)|%.0f|%.0f (%s)|%s\n",
        $measure, $r->{module}{rps}, $r->{base}{rps}, $base_name, $v;
    push @rows, sprintf "ROW api reads|%s: latency p50 / p99|%.1f ms / %.1f ms||\n",
        $route, @{ $r->{module} }{qw(p50 p99)};
    $ok = ($ok // 1) && $pass;
};
$pair->('GET /api/assets/:id, 3 versions, 64 connections', "/api/assets/$id",
        'pgbench, NGX_MAM_SQL_ASSET_GET', $pgbench->('asset'), 0.5);
$pair->("GET /api/assets/:id/comments, $COMMENTS comments, first 24", "/api/assets/$id/comments",
        'pgbench, NGX_MAM_SQL_COMMENT_PAGE', $pgbench->('comments'), 0.5);
$pair->('GET /auth/me with a token', '/auth/me',
        'GET /api/health, no token', sub { wrk_run($s->url('/api/health'), @_) }, 0.4);
print @rows;
$s->teardown;
exit($ok ? 0 : 1);
