#!/usr/bin/perl
# PgBouncer between the module and PostgreSQL (issue 23; docs/deployment.md):
#
#  - session pooling: the module's named prepared statements as they are,
#    a pool at least as large as the module's connections, the plan cache
#    setting on the role (PgBouncer refuses libpq's `options`); PgBouncer
#    restarted, the statements are prepared again on the new sessions;
#  - transaction pooling with mam_pg_prepare off, on any PgBouncer: every
#    statement unnamed, its Parse/Bind/Execute in one transaction, with
#    fewer server connections than the module holds;
#  - transaction pooling with named statements: PgBouncer 1.21 and later
#    carry them (max_prepared_statements; the plan cache setting passed on
#    with track_extra_parameters); before it (Debian 12 has 1.18) they
#    break, which is why mam_pg_prepare off exists.  MAM_PGBOUNCER names
#    a newer build to run that part (1.25.2 passed it, 2026-12-02).
# Skipped only where the pgbouncer program is missing (deps lists it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use Time::HiRes qw(sleep);
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

# Debian's, or another build named by MAM_PGBOUNCER (a newer version)
my ($BOUNCER) = grep { $_ && -x } $ENV{MAM_PGBOUNCER}, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer';
plan skip_all => 'pgbouncer missing (scripts/install-deps)' unless $BOUNCER;
my ($version) = `$BOUNCER --version` =~ /PgBouncer (\d+\.\d+)/;
my $carries_prepared = do { my ($maj, $min) = split /\./, $version; $maj > 1 || $min >= 21 };

my $s = Mam::Stack->new(workers => 2, pg_pool_size => 4, rate_limits => 'off');
$s->start;
my $log = $s->pg_dir . '/postgresql.log';
my $T = $s->register('bouncer@example.com')->{access_token};
my $asset = $s->create_asset($T, content => 'bytes', filename => 'a.mov');

# every statement in PostgreSQL's log, to tell named from unnamed
$s->psql_as('postgres', 'mam', q{ALTER SYSTEM SET log_statement = 'all'});
$s->psql_as('postgres', 'mam', q{ALTER SYSTEM SET log_min_messages = 'log'});
$s->psql_as('postgres', 'mam', q{SELECT pg_reload_conf()});
# the session settings the module asks for in `options`, on the role
$s->psql_as('postgres', 'mam', q{ALTER ROLE mam SET plan_cache_mode = force_generic_plan});
$s->psql_as('postgres', 'mam', q{ALTER ROLE mam SET enable_incremental_sort = off});

my $dir = $s->data_dir . '/pgbouncer';
make_path($dir);
if ($> == 0) {
    my (undef, undef, $uid, $gid) = getpwnam('postgres') or die 'no postgres user';
    chown $uid, $gid, $dir;
}
my $port = Mam::Stack::free_port();
my $bouncer_pid;
my $conninfo = "host=$dir port=$port dbname=mam user=mam";

sub bouncer_psql {
    my ($db, $user, $sql) = @_;
    return $s->run_quiet('psql', '-X', '-q', '-tA', '-h', $dir, '-p', $port, '-U', $user, '-d', $db, '-c', $sql);
}

# PgBouncer with this pool mode and size (and more lines), in front of the
# stack's PostgreSQL; as `postgres` when we are root (it refuses root)
sub start_bouncer {
    my ($mode, $size, $extra) = @_;
    stop_bouncer();
    $s->write_file("$dir/users.txt", qq{"mam" ""\n"postgres" ""\n});
    $s->write_file("$dir/pgbouncer.ini", <<EOT . ($extra // ''));
[databases]
mam = host=@{[ $s->pg_socket_dir ]} dbname=mam
[pgbouncer]
listen_addr =
unix_socket_dir = $dir
listen_port = $port
auth_type = trust
auth_file = $dir/users.txt
admin_users = postgres
pool_mode = $mode
default_pool_size = $size
max_client_conn = 200
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOT
    unlink "$dir/pgbouncer.pid";
    $bouncer_pid = $s->spawn($s->pg_cmd($BOUNCER, "$dir/pgbouncer.ini"));
    $s->wait_until(sub { -S "$dir/.s.PGSQL.$port" }, 20, 'pgbouncer did not start');
}

sub stop_bouncer {
    return unless $bouncer_pid;
    my $pid = $s->slurp("$dir/pgbouncer.pid");
    kill 'TERM', $pid =~ /(\d+)/ ? $1 : ();
    $s->kill_wait($bouncer_pid, 'TERM', 10);
    undef $bouncer_pid;
}
END { stop_bouncer() if $s }

sub log_from { -s $log }
sub logged_since {
    open my $fh, '<', $log or die "$log: $!";
    seek $fh, $_[0], 0;
    local $/;
    return <$fh> // '';
}

# a round of reads and writes: their statuses
sub round {
    my ($tag) = @_;
    my @st;
    my $a = eval { $s->create_asset($T, content => "bytes $tag", title => "through $tag") };
    push @st, $a ? 201 : 0;
    push @st, $s->api(POST => "/api/assets/$asset->{id}/comments", { timestamp_sec => 1, content => $tag },
                      token => $T)->{status};
    push @st, map { $s->api(GET => $_, undef, token => $T)->{status} }
        '/api/assets?limit=5', "/api/assets/$asset->{id}", "/api/assets/$asset->{id}/comments";
    return \@st;
}

# 60 list requests at once over the workers' 8 connections
sub burst {
    my ($tag) = @_;
    my @res = parallel_requests($s->port, [ map {
        { path => "/api/assets?limit=5&n=$tag$_", headers => { Authorization => "Bearer $T" } } } 1 .. 60 ]);
    return scalar grep { $_->{status} == 200 } @res;
}

# the server connections of the module's role
sub server_conns {
    my $n = $s->psql_as('postgres', 'mam', q{SELECT count(*) FROM pg_stat_activity
        WHERE usename = 'mam' AND backend_type = 'client backend'});
    chomp $n;
    return $n;
}

# --- session pooling -----------------------------------------------------------------
# PgBouncer refuses libpq's `options` (the module's plan cache setting)
# unless told to ignore it; the role carries the setting instead
start_bouncer('session', 8, "ignore_startup_parameters = options\n");
my ($rc, $out) = bouncer_psql('mam', 'mam', 'SHOW plan_cache_mode');
is($out, "force_generic_plan\n", 'through PgBouncer a session gets the role\'s plan_cache_mode');
($rc, $out) = bouncer_psql('mam', 'mam', 'SHOW enable_incremental_sort');
is($out, "off\n", '... and its enable_incremental_sort');
$s->restart_nginx(pg_conninfo => $conninfo);
my $from = log_from();
is_deeply(round('session'), [201, 201, 200, 200, 200], "session pooling (PgBouncer $version): writes and reads");
is(burst('s'), 60, '... 60 concurrent reads over the 8 sessions, all 200');
my $text = logged_since($from);
like($text, qr/execute mam_\d+:/, '... statements executed by name');
unlike($text, qr/execute <unnamed>/, '... none unnamed');

stop_bouncer();
$s->wait_until(sub { $s->http(GET => '/api/health')->{status} == 503 }, 20, 'health 503');
pass('PgBouncer stopped: /api/health is 503 (the module\'s only way to PostgreSQL is through it)');
start_bouncer('session', 8, "ignore_startup_parameters = options\n");
$s->wait_until(sub { $s->api(GET => '/api/assets?limit=5', undef, token => $T)->{status} == 200 }, 30,
               'the module reconnected');
$from = log_from();
is_deeply(round('again'), [201, 201, 200, 200, 200], 'PgBouncer back: writes and reads again');
$text = logged_since($from);
unlike($text, qr/prepared statement "mam_\d+" does not exist/, '... the statements prepared again on the new sessions');

# --- transaction pooling, mam_pg_prepare off: any PgBouncer ----------------------------
# two server connections for the module's eight, and no `options` to ignore
start_bouncer('transaction', 2);
$s->restart_nginx(pg_conninfo => $conninfo, pg_prepare => 'off');
$from = log_from();
is_deeply(round('transaction'), [201, 201, 200, 200, 200],
          'transaction pooling with mam_pg_prepare off: writes and reads');
is(burst('t'), 60, '... 60 concurrent reads, all 200');
cmp_ok(server_conns(), '<=', 2, '... over at most 2 server connections (the module holds 8)');
$text = logged_since($from);
like($text, qr/execute <unnamed>:/, '... every statement unnamed');
unlike($text, qr/execute mam_\d+/, '... none by name');
# a failed login counted and a registration's first-admin lock: both are
# one statement, one transaction
is($s->api(POST => '/auth/login', { email => 'bouncer@example.com', password => 'wrong horse battery' })->{status},
   401, '... a failed login is 401');
is($s->register('second@example.com')->{user}{roles}[0], 'editor', '... registration (its advisory lock) works');

# --- transaction pooling with named statements -------------------------------------------
SKIP: {
    skip "PgBouncer $version carries no prepared statements in transaction mode (1.21 does): "
       . 'mam_pg_prepare off above', 4 unless $carries_prepared;
    # from 1.20 PgBouncer passes `options` on for the parameters it tracks
    start_bouncer('transaction', 2, "max_prepared_statements = 200\ntrack_extra_parameters = plan_cache_mode, enable_incremental_sort\n");
    $s->restart_nginx(pg_conninfo => $conninfo);
    $from = log_from();
    is_deeply(round('prepared'), [201, 201, 200, 200, 200],
              "transaction pooling, PgBouncer $version with max_prepared_statements: writes and reads");
    is(burst('p'), 60, '... 60 concurrent reads, all 200');
    cmp_ok(server_conns(), '<=', 2, '... over at most 2 server connections');
    unlike(logged_since($from), qr/execute <unnamed>/, '... every statement prepared (PgBouncer names them anew)');
}
unless ($carries_prepared) {
    # the control: what mam_pg_prepare off is for
    start_bouncer('transaction', 2, "ignore_startup_parameters = options\n");
    $s->restart_nginx(pg_conninfo => $conninfo);
    $from = log_from();
    my @res = parallel_requests($s->port, [ map {
        { path => "/api/assets?limit=5&n=n$_", headers => { Authorization => "Bearer $T" } } } 1 .. 60 ]);
    my @bad = grep { $_->{status} != 200 } @res;
    ok(@bad > 0, "transaction pooling on PgBouncer $version with named statements: "
       . @bad . ' of 60 requests fail');
    is(scalar(grep { $_->{status} != 500 } @bad), 0,
       '... as errors of their statements (500), which mam_pg_prepare off avoids');
}

# back to PostgreSQL itself, settings undone
$s->restart_nginx;
stop_bouncer();
$s->psql_as('postgres', 'mam', q{ALTER ROLE mam RESET plan_cache_mode});
$s->psql_as('postgres', 'mam', q{ALTER ROLE mam RESET enable_incremental_sort});
$s->psql_as('postgres', 'mam', q{ALTER SYSTEM RESET ALL});
$s->psql_as('postgres', 'mam', q{SELECT pg_reload_conf()});
$s->check_error_log;
done_testing();
