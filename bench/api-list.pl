#!/usr/bin/perl
# API list (operations.md, Benchmarks; issue 16): GET /api/assets?limit=24
# with a JWT over 10,000 assets, wrk with 64 connections, against two
# baselines measured in the same run, the runs alternating:
#
#  - pgbench -M prepared, 64 clients, of the bare keyset page: the 24 newest
#    live assets' id, title, description and created_at as JSON, the least
#    SQL that can answer.  Bar: the API reaches half its rate.
#  - the seed's stack (bench/fastify/server.js: Fastify, node-postgres,
#    @fastify/jwt, 2 workers) answering the same route from the same
#    database with the module's own statement (NGX_MAM_SQL_ASSET_LIST of
#    ngx_mam_sql.h) and the same JSON.  Bar: the API serves twice its rate.
#
# The user measured is a member of the project of the assets, not an
# admin: its list is the project-scoped statement (issue 19).
#
# Every asset has a version with a ready preview, as assets made through
# the API do; BENCH_VERSIONS=0 seeds assets alone, as the runs before
# issue 16 did.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep time);
use Mam::Stack;
use Mam::Sql qw(sql_text);
use Mam::Bench qw(seed_assets bare_page wrk_run pgbench_run alternate verdict);

my $ASSETS = $ENV{BENCH_ASSETS} // 10_000;
my $PATH = '/api/assets?limit=24';

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2);
$s->start;
# the first account is the admin, whose list is unscoped; the measured
# user is the second, an editor and a member of the default project (as
# every account is) that holds the seeded assets: the list it gets is the
# project-scoped one (issue 19), against the bare unscoped page
$s->register('admin@example.com');
my $login = $s->register('bench@example.com');
seed_assets($s, $login->{user}{id}, $ASSETS, versions => $ENV{BENCH_VERSIONS} // 1);
$s->psql('ANALYZE');

my $bare = bare_page($s);

# the Fastify server on a port of its own, the stack's database and keys;
# its pool has as many connections per worker as the module's
my $fport = Mam::Stack::free_port();
my $fpid = do {
    local $ENV{MAM_PORT} = $fport;
    local $ENV{MAM_WORKERS} = 2;
    local $ENV{MAM_PG_POOL} = 4;
    local $ENV{MAM_PG_SOCKET_DIR} = $s->pg_socket_dir;
    local $ENV{MAM_JWT_KEY_FILE} = $s->data_dir . '/secrets/jwt.key';
    local $ENV{MAM_SIGN_KEY_FILE} = $s->data_dir . '/secrets/sign.key';
    local $ENV{MAM_SQL_ASSET_LIST} = sql_text('NGX_MAM_SQL_ASSET_LIST');
    $s->spawn('node', "$FindBin::Bin/fastify/server.js");
};
END { $s->kill_wait($fpid, 'TERM', 10) if $fpid && $s }
my $furl = "http://127.0.0.1:$fport$PATH";

my $ua = HTTP::Tiny->new(timeout => 10);
my %auth = (headers => { Authorization => "Bearer $login->{access_token}" });
my $deadline = time + 30;
my $fres;
until (($fres = $ua->get($furl, \%auth))->{status} == 200) {
    die "api-list: the Fastify server did not answer: $fres->{status} $fres->{content}\n"
        . $s->slurp($s->prefix . '/logs/stdout.log') if time > $deadline || !kill 0, $fpid;
    sleep 0.2;
}

# a baseline that answers something else would measure nothing: both
# answers must be the same JSON (cursor included)
my $json = JSON::PP->new->canonical;
my $mres = $ua->get($s->url($PATH), \%auth);
die "api-list: the module answered $mres->{status}\n" unless $mres->{status} == 200;
my ($mine, $theirs) = map { $json->encode($json->decode($_->{content})) } $mres, $fres;
die "api-list: the module and the Fastify server answer differently:\n$mine\n$theirs\n"
    unless $mine eq $theirs;

my $r = alternate(
    module  => sub { wrk_run($s->url($PATH), token => $login->{access_token}, @_) },
    pgbench => sub { pgbench_run($s, $bare, @_) },
    fastify => sub { wrk_run($furl, token => $login->{access_token}, @_) },
);

my ($m, $p, $f) = @$r{qw(module pgbench fastify)};
my ($v1, $ok1) = verdict($m->{rps}, $p->{rps}, 0.5);
my ($v2, $ok2) = verdict($m->{rps}, $f->{rps}, 2);
printf "ROW api list|GET %s, %d assets, %d connections (req/s)|%.0f|%.0f (pgbench, bare keyset page)|%s\n",
    $PATH, $ASSETS, $Mam::Bench::CONNS, $m->{rps}, $p->{rps}, $v1;
printf "ROW api list|the same against the seed's stack (req/s)|%.0f|%.0f (Fastify + pg, 2 workers, same statement)|%s\n",
    $m->{rps}, $f->{rps}, $v2;
printf "ROW api list|latency p50 / p99|%.1f ms / %.1f ms|%.1f ms / %.1f ms (Fastify)|\n",
    @$m{qw(p50 p99)}, @$f{qw(p50 p99)};
$s->kill_wait($fpid, 'TERM', 10);
undef $fpid;
$s->teardown;
exit($ok1 && $ok2 ? 0 : 1);
