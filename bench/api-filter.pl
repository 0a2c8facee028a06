#!/usr/bin/perl
# API list with the project scope and a filter (issue 19): GET /api/assets
# with a JWT over 100,000 assets, wrk with 64 connections, against the
# bare keyset page of api-list.pl (pgbench -M prepared, 64 clients: the 24
# newest live assets as JSON, no scope, no filter) measured in the same
# run, the runs alternating.  Bar: each filtered list reaches half its
# rate.
#
# The measured user is a member (not an admin) of the default project,
# which holds the assets; one asset in ten has the tag "red".  Measured:
#  - ?project=P           the SPA's grid of one project (every asset)
#  - ?project=P&tag=red   a filter of a tenth of them, in the project
# BENCH_PLAIN=1 measures the list without a filter too (api-list.pl's).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Mam::Stack;
use Mam::Bench qw(seed_assets bare_page wrk_run pgbench_run alternate verdict);

my $ASSETS = $ENV{BENCH_ASSETS} // 100_000;

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2);
$s->start;
$s->register('admin@example.com');
my $login = $s->register('bench@example.com');
seed_assets($s, $login->{user}{id}, $ASSETS, versions => 1);
$s->psql(q{UPDATE assets SET tags = '{red}'
            WHERE id IN (SELECT id FROM assets ORDER BY created_at OFFSET 3 ROWS)
              AND random() < 0.1});
$s->psql('VACUUM ANALYZE');
chomp(my $P = $s->psql('SELECT id FROM projects WHERE is_default'));

my $bare = bare_page($s);

my %path = (plain   => '/api/assets?limit=24',
            project => "/api/assets?limit=24&project=$P",
            tag     => "/api/assets?limit=24&project=$P&tag=red");

# each answers a full page, and the tag's only red assets
my $ua = HTTP::Tiny->new(timeout => 10);
my %auth = (headers => { Authorization => "Bearer $login->{access_token}" });
for my $k (sort keys %path) {
    my $r = $ua->get($s->url($path{$k}), \%auth);
    die "api-filter: $path{$k} answered $r->{status}\n" unless $r->{status} == 200;
    my $items = decode_json($r->{content})->{items};
    die "api-filter: $path{$k} answered " . @$items . " items\n" unless @$items == 24;
    die "api-filter: $path{$k} answered an asset without the tag\n"
        if $k eq 'tag' && grep { "@{ $_->{tags} }" ne 'red' } @$items;
}

my $r = alternate(
    ($ENV{BENCH_PLAIN} ? (plain => sub { wrk_run($s->url($path{plain}), token => $login->{access_token}, @_) }) : ()),
    project => sub { wrk_run($s->url($path{project}), token => $login->{access_token}, @_) },
    tag     => sub { wrk_run($s->url($path{tag}), token => $login->{access_token}, @_) },
    pgbench => sub { pgbench_run($s, $bare, @_) },
);

my $ok = 1;
for my $k ($ENV{BENCH_PLAIN} ? qw(plain project tag) : qw(project tag)) {
    my ($v, $pass) = verdict($r->{$k}{rps}, $r->{pgbench}{rps}, 0.5);
    $ok &&= $pass;
    printf "ROW api list filtered|GET %s, %d assets, %d connections (req/s; p50 %.1f ms, p99 %.1f ms)|%.0f|%.0f (pgbench, bare keyset page)|%s\n",
        $path{$k} =~ s/$P/P/r, $ASSETS, $Mam::Bench::CONNS, @{ $r->{$k} }{qw(p50 p99)},
        $r->{$k}{rps}, $r->{pgbench}{rps}, $v;
}
$s->teardown;
exit($ok ? 0 : 1);
