#!/usr/bin/perl
# Every statement the module sends is a named prepared statement (issue 16):
# PostgreSQL's statement log shows each request's query executed by name
# ("execute mam_N"), never unnamed, and a connection that PostgreSQL drops
# prepares its statements again on the next one (without that, the next
# request would fail: "prepared statement mam_N does not exist"); with
# mam_pg_prepare off (issue 23: poolers) every statement goes unnamed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;

my $s = Mam::Stack->new(workers => 1, pg_pool_size => 2, rate_limits => 'off');
$s->start;
my $log = $s->pg_dir . '/postgresql.log';
my $T = $s->register('prep@example.com')->{access_token};
my $asset = $s->create_asset($T, content => 'bytes', filename => 'a.mov');

$s->psql_as('postgres', 'mam', q{ALTER SYSTEM SET log_statement = 'all'});
$s->psql_as('postgres', 'mam', q{ALTER SYSTEM SET log_min_messages = 'log'});
$s->psql_as('postgres', 'mam', q{SELECT pg_reload_conf()});
sleep 1;
my $from = -s $log;

sub logged_since {
    my ($offset) = @_;
    open my $fh, '<', $log or die "$log: $!";
    seek $fh, $offset, 0;
    local $/;
    return <$fh> // '';
}

# three rounds of the four reads; the statuses
sub requests {
    my @paths = ('/auth/me', '/api/assets?limit=5', "/api/assets/$asset->{id}",
                 "/api/assets/$asset->{id}/comments");
    return map { my $p = $_; $s->api(GET => $p, undef, token => $T)->{status} } (@paths) x 3;
}

my @st = requests();
is_deeply(\@st, [ (200) x 12 ], 'me, list, asset and comments answer 200');
my $text = logged_since($from);
my @named = $text =~ /execute (mam_\d+):/g;
# /auth/me reads PostgreSQL once: then its answer comes with the gate's
# Redis reply (the user's cached item)
ok(@named >= 10, scalar(@named) . ' statements executed by name (3 rounds of 3 reads, /auth/me once)');
unlike($text, qr/execute <unnamed>/, 'none executed unnamed');
my %distinct = map { $_ => 1 } @named;
ok(keys(%distinct) >= 4, 'each kind of query has a name of its own (' . join(' ', sort keys %distinct) . ')');

# PostgreSQL drops the module's connections: the next ones start bare
$s->psql_as('postgres', 'mam', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                  WHERE usename = 'mam' AND backend_type = 'client backend'
                                    AND pid <> pg_backend_pid()});
$s->wait_until(sub { $s->api(GET => '/api/assets?limit=5', undef, token => $T)->{status} == 200 }, 20,
               'the module reconnected');
$from = -s $log;
@st = requests();
is_deeply(\@st, [ (200) x 12 ], 'after the connections were dropped, every request answers 200');
$text = logged_since($from);
unlike($text, qr/prepared statement "mam_\d+" does not exist/, 'statements were prepared again on the new connections');
like($text, qr/execute mam_\d+:/, '... and executed by name');

# mam_pg_prepare off (a pooler that cannot carry named statements,
# t/95): the same requests, every statement unnamed, no session options
$s->restart_nginx(pg_prepare => 'off');
$from = -s $log;
@st = requests();
is_deeply(\@st, [ (200) x 12 ], 'mam_pg_prepare off: every request answers 200');
$text = logged_since($from);
like($text, qr/execute <unnamed>:/, '... its statements executed unnamed');
unlike($text, qr/execute mam_\d+/, '... none by name');

$s->psql_as('postgres', 'mam', q{ALTER SYSTEM RESET ALL});
$s->psql_as('postgres', 'mam', q{SELECT pg_reload_conf()});
$s->check_error_log;
done_testing();
