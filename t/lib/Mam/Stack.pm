package Mam::Stack;
# One MAM stack: PostgreSQL, Redis and nginx with ngx_mam_module, all kept in
# one data directory.  Used by every test file (a fresh temporary stack each)
# and by `make run` (scripts/mam-run: a persistent stack in DATA_DIR).
#
#   my $s = Mam::Stack->new(%options);   # see %DEFAULTS
#   $s->start;                           # everything, waits for /api/health
#   my $r = $s->http(GET => '/api/health');   # {status, headers, content, json}
#   $s->stop_postgres; $s->start_postgres; $s->stop_redis; ...
#
# A second node (another host's nginx and transcoderd, as t/94 and
# bench/two-node.pl run it): Mam::Stack->new(attach => $s) has a data
# directory, port, nginx and transcoderd of its own, and uses $s's
# PostgreSQL, Redis, S3 peer, storage and secrets; it starts and stops
# only its own processes.
#
# Teardown happens at scope end, at program end and on SIGINT/SIGTERM, even
# when a test dies.  MAM_KEEP=1 keeps a temporary data directory.
use strict;
use warnings;
use Cwd qw(abs_path);
use Fcntl qw(:mode);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken);
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
# the build under test (make test SANITIZE=1 uses build-asan)
our $BUILD = $ENV{MAM_BUILD} || "$ROOT/build";
our $PGBIN = '/usr/lib/postgresql/15/bin';
our $NGINX = '/usr/sbin/nginx';

my %DEFAULTS = (
    data_dir         => undef,     # default: a new directory under /tmp
    attach           => undef,     # a stack whose services this one uses
    persistent       => 0,         # keep and reuse data_dir, durable settings
    port             => undef,     # default: a free port
    module           => 1,         # load ngx_mam_module and its directives
    workers          => 2,
    listen_extra     => '',        # e.g. 'reuseport': the kernel spreads
                                   # connections over the workers
    pg_pool_size     => 4,
    pg_queue_size    => 1024,
    pg_queue_timeout => '10s',
    pg_query_timeout => undef,     # undef: the module's default
    pg_first_host    => undef,     # a host tried before the real one
    pg_conninfo      => undef,     # mam_pg's (undef: the stack's PostgreSQL;
                                   # t/95: a PgBouncer in front of it)
    pg_prepare       => undef,     # mam_pg_prepare (undef: the default, on)
    redis_timeout    => undef,
    redis_auth       => undef,     # 'password': requirepass; 'acl': the
                                   # user of conf/redis-acl.conf
    preview_stream_maxlen => undef,
    json_body_limit  => '64k',
    registration     => 'open',
    rate_limits      => 'on',
    rate_limit_auth  => undef,     # undef: the module's default
    rate_limit_api   => undef,
    rate_limit_user  => undef,
    rate_limit_callback => undef,
    health_deep_allow => '127.0.0.1',   # mam_health_deep_allow; undef: none
    upload_max_size  => undef,     # undef: the module's defaults
    upload_url_ttl   => undef,
    upload_resumable_threshold => undef,
    upload_resumable_ttl => undef,
    upload_part_size => undef,
    staging_ttl      => undef,
    housekeeping_interval => undef,
    session_retention => undef,
    audit_retention  => undef,
    events_ping      => undef,
    preview_reconcile_interval => undef,
    preview_stall_timeout => undef,
    preview_enqueue_grace => undef,
    transcoderd      => 0,         # start transcoderd too
    s3               => 0,         # S3 storage on an s3rver instead of folders
    edge_cache       => 0,         # with s3: the edge's proxy_cache (issue 23),
                                   # logs/edge-cache.log its cache statuses
    td_extra         => '',        # lines added to transcoderd.conf
    webhookd         => 0,         # start webhookd too
    wh_extra         => '',        # lines added to webhookd.conf
    http_extra       => '',        # text added to the http {} block
    main_extra       => '',        # text added to the main context
    thread_pool_threads => 4,      # threads of the pool named mam
    server_extra     => '',        # text added to the server {} block
    error_log_level  => 'info',    # nginx's error_log level (debug: traces)
);

my %LIVE;    # stacks of this process, torn down at exit

sub new {
    my ($class, %opt) = @_;
    my $self = bless { %DEFAULTS, %opt, owner => $$, children => {} }, $class;
    for (keys %opt) { die "Mam::Stack: unknown option $_" unless exists $DEFAULTS{$_} }
    # a node of another stack talks to its services as they are set up,
    # and goes down before them
    if (my $svc = $self->{attach}) {
        $self->{$_} = $svc->{$_} for qw(s3 redis_auth);
        push @{ $svc->{nodes} }, $self;
        weaken($svc->{nodes}[-1]);
    }

    if (defined $self->{data_dir}) {
        make_path($self->{data_dir});
        $self->{data_dir} = abs_path($self->{data_dir});
    } else {
        $self->{data_dir} = tempdir('mam-XXXXXX', DIR => '/tmp');
        $self->{temporary} = 1;
    }
    # PostgreSQL runs as `postgres` when we are root: it must reach its dirs
    chmod 0755, $self->{data_dir};
    $self->{port} //= free_port();
    $self->{as_root} = $> == 0;
    $LIVE{"$self"} = $self;
    return $self;
}

sub data_dir { $_[0]{data_dir} }
sub port     { $_[0]{port} }
sub base_url { "http://127.0.0.1:$_[0]{port}" }
sub url      { $_[0]->base_url . $_[1] }
sub prefix   { "$_[0]{data_dir}/nginx" }
# the stack that runs PostgreSQL, Redis and the S3 peer: this one, or the
# one it is attached to; their files live in its data directory
sub services { $_[0]{attach} // $_[0] }
sub shared_dir    { $_[0]->services->{data_dir} }
sub secrets_dir   { $_[0]->shared_dir . '/secrets' }
sub storage_root  { $_[0]->shared_dir . '/storage' }
sub pg_dir   { $_[0]->shared_dir . '/pg' }
sub pg_socket_dir { $_[0]->shared_dir . '/pgsock' }
sub redis_socket  { $_[0]->shared_dir . '/run/redis.sock' }
sub pg_conninfo   { 'host=' . $_[0]->pg_socket_dir . ' dbname=mam user=mam' }
sub error_log     { $_[0]->prefix . '/logs/error.log' }

sub free_port {
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                     Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "free_port: $!";
    my $port = $sock->sockport;
    close $sock;
    return $port;
}

# --- whole stack ----------------------------------------------------------

# directories, secrets and nginx.conf: everything short of starting servers
sub prepare {
    my ($self) = @_;
    return if $self->{prepared}++;
    my $d = $self->{data_dir};
    make_path("$d/run", $self->prefix . '/logs', $self->prefix . '/conf',
              $self->prefix . '/temp', $self->{attach} ? () : ("$d/storage", "$d/redis"));
    my $sockpath = $self->pg_socket_dir . '/.s.PGSQL.5432';
    die "Mam::Stack: data dir path too long for a Unix socket ($sockpath)\n"
        if length $sockpath > 100;
    $self->make_secrets unless $self->{attach};
    $self->write_file($self->prefix . '/conf/nginx.conf', $self->render_nginx_conf);
}

sub start {
    my ($self) = @_;
    return $self->start_node if $self->{attach};
    $self->prepare;
    $self->start_postgres;
    $self->migrate;
    $self->start_redis;
    $self->start_s3 if $self->{s3};
    $self->start_nginx;
    $self->wait_healthy;
    $self->start_transcoderd if $self->{transcoderd};
    $self->start_webhookd if $self->{webhookd};
    return $self;
}

# a node attached to another stack: its own nginx and transcoderd only
sub start_node {
    my ($self) = @_;
    $self->prepare;
    $self->start_nginx;
    $self->wait_healthy;
    $self->start_transcoderd if $self->{transcoderd};
    return $self;
}

sub teardown {
    my ($self) = @_;
    return if $self->{torn_down}++ || $self->{owner} != $$;
    delete $LIVE{"$self"};
    my @nodes = grep { defined } @{ $self->{nodes} // [] };
    $_->teardown for @nodes;
    eval { $self->stop_transcoderd };
    eval { $self->stop_webhookd };
    eval { $self->stop_s3 };
    eval { $self->stop_nginx };
    eval { $self->stop_redis };
    eval { $self->stop_postgres };
    if ($self->{temporary} && !$ENV{MAM_KEEP}) {
        remove_tree($self->{data_dir});
    } elsif ($self->{temporary}) {
        print STDERR "# MAM_KEEP: kept $self->{data_dir}\n";
    }
}

sub DESTROY { $_[0]->teardown }

# a copy of the list: a stack's teardown also tears down (and removes
# from %LIVE) the nodes attached to it
END {
    my $status = $?;
    my @live = values %LIVE;
    $_ && $_->teardown for @live;
    $? = $status;
}

for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { my @live = values %LIVE; $_ && $_->teardown for @live; exit 1 };
}

sub wait_healthy {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    my $r;
    while (time < $deadline) {
        $r = $self->http(GET => '/api/health');
        return $r if $r->{status} == 200;
        sleep 0.05;
    }
    die "Mam::Stack: /api/health did not answer 200 (last: $r->{status} "
        . ($r->{content} // '') . ")\n" . $self->tail_error_log;
}

# --- secrets --------------------------------------------------------------

sub make_secrets {
    my ($self) = @_;
    my $dir = "$self->{data_dir}/secrets";
    make_path($dir);
    chmod 0700, $dir;
    for my $name (qw(jwt sign callback), $self->{redis_auth} ? qw(redis admin) : ()) {
        my $file = "$dir/$name.key";
        next if -e $file;
        open my $rnd, '<:raw', '/dev/urandom' or die "urandom: $!";
        read($rnd, my $bytes, 32) == 32 or die "urandom: short read";
        close $rnd;
        my $old = umask 0077;
        open my $fh, '>', $file or die "$file: $!";
        print $fh unpack('H*', $bytes), "\n";
        close $fh;
        umask $old;
        chmod 0600, $file;
    }
}

# --- PostgreSQL -----------------------------------------------------------

# a PostgreSQL program, as `postgres` when we are root
sub pg_cmd {
    my ($self, @cmd) = @_;
    return $self->{as_root} ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

sub run_quiet {
    my ($self, @cmd) = @_;
    local %ENV = %ENV;
    $self->sanitizer_env($cmd[0] eq 'nginx' ? $NGINX : $cmd[0]);
    my $out = qx{@{[ join ' ', map { shell_quote($_) } @cmd ]} 2>&1};
    return ($? >> 8, $out);
}

sub shell_quote {
    my ($s) = @_;
    return $s if $s =~ /^[A-Za-z0-9_\/.,:=+\@-]+$/;
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

sub init_postgres {
    my ($self) = @_;
    my $pg = $self->pg_dir;
    return if -f "$pg/PG_VERSION";
    make_path($pg, $self->pg_socket_dir);
    chmod 0700, $pg;
    if ($self->{as_root}) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres') or die "no postgres user";
        chown $uid, $gid, $pg, $self->pg_socket_dir;
    }
    my ($rc, $out) = $self->run_quiet($self->pg_cmd("$PGBIN/initdb", '-D', $pg,
        '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'));
    die "initdb failed:\n$out" if $rc;

    my $conf = join "\n",
        "listen_addresses = ''",
        "unix_socket_directories = '" . $self->pg_socket_dir . "'",
        'max_connections = 200',
        'shared_buffers = 32MB',
        "log_min_messages = warning",
        ($self->{persistent} ? () :
            ('fsync = off', 'synchronous_commit = off', 'full_page_writes = off')),
        '';
    open my $fh, '>>', "$pg/postgresql.conf" or die;
    print $fh "\n# Mam::Stack\n$conf";
    close $fh;
}

sub start_postgres {
    my ($self) = @_;
    $self->init_postgres;
    my $pg = $self->pg_dir;
    my ($rc, $out) = $self->run_quiet($self->pg_cmd("$PGBIN/pg_ctl", '-D', $pg,
        '-l', "$pg/postgresql.log", '-w', '-t', '60', 'start'));
    die "PostgreSQL did not start:\n$out" . $self->slurp("$pg/postgresql.log")
        if $rc;
    $self->{pg_running} = 1;
    $self->ensure_database;
}

sub stop_postgres {
    my ($self) = @_;
    return unless $self->{pg_running};
    my ($rc, $out) = $self->run_quiet($self->pg_cmd("$PGBIN/pg_ctl", '-D',
        $self->pg_dir, '-m', 'fast', '-w', '-t', '60', 'stop'));
    die "PostgreSQL did not stop:\n$out" if $rc;
    $self->{pg_running} = 0;
}

sub postgres_pid {
    my ($self) = @_;
    my ($pid) = split /\n/, $self->slurp($self->pg_dir . '/postmaster.pid');
    return $pid;
}

# SIGSTOP/SIGCONT the postmaster and all its children: queries hang instead
# of failing, the way a stuck server behaves
sub freeze_postgres {
    my ($self, $sig) = @_;
    my $pm = $self->postgres_pid;
    kill $sig, $pm, split ' ', `pgrep -P $pm`;
}

sub ensure_database {
    my ($self) = @_;
    my $has = $self->psql_as('postgres', 'postgres',
        "SELECT 1 FROM pg_roles WHERE rolname = 'mam'");
    $self->psql_as('postgres', 'postgres', 'CREATE ROLE mam LOGIN') unless $has =~ /1/;
    $has = $self->psql_as('postgres', 'postgres',
        "SELECT 1 FROM pg_database WHERE datname = 'mam'");
    $self->psql_as('postgres', 'postgres', 'CREATE DATABASE mam OWNER mam')
        unless $has =~ /1/;
}

sub psql_as {
    my ($self, $user, $db, $sql) = @_;
    my ($rc, $out) = $self->run_quiet('psql', '-X', '-q', '-tA', '-v',
        'ON_ERROR_STOP=1', '-h', $self->pg_socket_dir, '-U', $user, '-d', $db,
        '-c', $sql);
    die "psql failed: $out" if $rc;
    return $out;
}

# SQL as the application's role; returns psql's unaligned output
sub psql { my ($self, $sql) = @_; return $self->psql_as('mam', 'mam', $sql) }

sub migrate {
    my ($self) = @_;
    my ($rc, $out) = $self->run_quiet("$ROOT/schema/migrate", $self->pg_conninfo);
    die "migrations failed:\n$out" if $rc;
    return $out;
}

# --- Redis ----------------------------------------------------------------

# the password the module and transcoderd send (secrets/redis.key), and
# the one of `default`, the tests' own user, in 'acl' mode
sub redis_password { $_[0]->secret('redis') }
sub secret {
    my ($self, $name) = @_;
    my $v = $self->slurp($self->secrets_dir . "/$name.key");
    $v =~ s/\s+\z//;
    return $v;
}

# the lines redis.conf gets for redis_auth
sub redis_auth_conf {
    my ($self) = @_;
    my $auth = $self->{redis_auth} // return ();
    return ('requirepass ' . $self->redis_password) if $auth eq 'password';
    die "Mam::Stack: redis_auth must be 'password' or 'acl'\n" unless $auth eq 'acl';
    # the module's and transcoderd's user, and webhookd's
    my @lines = grep { /^user mam(-webhookd)? / } split /\n/, $self->slurp("$ROOT/conf/redis-acl.conf");
    my $pw = $self->redis_password;
    s/ >PASSWORD / >$pw / or die "conf/redis-acl.conf: no >PASSWORD\n" for @lines;
    return ('user default on >' . $self->secret('admin') . ' ~* &* +@all', @lines);
}

sub start_redis {
    my ($self) = @_;
    my $d = $self->{data_dir};
    $self->prepare;
    my $conf = join "\n",
        'port 0',
        'unixsocket ' . $self->redis_socket,
        'unixsocketperm 777',
        "dir $d/redis",
        'logfile ' . $self->prefix . '/logs/redis.log',
        'daemonize no',
        'save ""',
        ($self->{persistent} ? ('appendonly yes') : ('appendonly no')),
        $self->redis_auth_conf,
        '';
    $self->write_file("$d/run/redis.conf", $conf);
    unlink $self->redis_socket;
    my $pid = $self->spawn('redis-server', "$d/run/redis.conf");
    $self->{redis_pid} = $pid;
    $self->wait_until(sub { $self->redis_cli('PING') =~ /PONG/ }, 20,
                      'Redis did not start');
}

sub stop_redis {
    my ($self) = @_;
    my $pid = delete $self->{redis_pid} or return;
    $self->kill_wait($pid, 'TERM', 20);
}

sub redis_cli {
    my ($self, @args) = @_;
    local $ENV{REDISCLI_AUTH} = !defined $self->{redis_auth} ? undef
        : $self->{redis_auth} eq 'acl' ? $self->secret('admin') : $self->redis_password;
    delete $ENV{REDISCLI_AUTH} unless defined $ENV{REDISCLI_AUTH};
    my ($rc, $out) = $self->run_quiet('redis-cli', '-s', $self->redis_socket, @args);
    return $out;
}

# --- S3 (s3rver, from npm) ---------------------------------------------------

our @BUCKETS = qw(mam-staging mam-masters mam-previews);

sub s3_port { $_[0]{attach} ? $_[0]{attach}->s3_port : ($_[0]{s3_port} //= free_port()) }
sub s3_url  { 'http://127.0.0.1:' . $_[0]->s3_port }

sub start_s3 {
    my ($self) = @_;
    my $d = $self->{data_dir};
    make_path("$d/s3");
    $self->write_file("$d/secrets/s3.credentials",
                      "access_key_id = S3RVER\nsecret_access_key = S3RVER\n");
    chmod 0600, "$d/secrets/s3.credentials";
    # s3rver with ListParts and AbortMultipartUpload added (t/lib/s3rver-peer.js)
    my $pid = $self->spawn('node', "$ROOT/t/lib/s3rver-peer.js", "$d/s3", $self->s3_port,
                           @BUCKETS);
    $self->{s3_pid} = $pid;
    $self->wait_until(sub {
        die "s3rver exited\n" unless kill 0, $pid;
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->s3_port);
    }, 20, 's3rver did not start');
}

sub stop_s3 {
    my ($self) = @_;
    my $pid = delete $self->{s3_pid} or return;
    $self->kill_wait($pid, 'TERM', 10);
}

# an object's bytes, or undef (s3rver keeps them under its directory)
sub s3_object {
    my ($self, $bucket, $key) = @_;
    my $r = HTTP::Tiny->new->get($self->s3_url . "/$bucket/$key");
    return $r->{status} == 200 ? $r->{content} : undef;
}

# the server-side encryption the S3 peer last accepted for an object's write
# ("AES256", "aws:kms KEY-ID"), or undef: none was written
sub s3_sse {
    my ($self, $bucket, $key) = @_;
    open my $f, '<', $self->shared_dir . '/s3/sse.log' or return undef;
    my $sse;
    while (<$f>) {
        chomp;
        $sse = $1 if /^\Q$bucket\E\/\Q$key\E (.+)$/;
    }
    return $sse;
}

# --- transcoderd ------------------------------------------------------------

sub transcoderd_conf { $_[0]{data_dir} . '/run/transcoderd.conf' }
sub transcoderd_log  { $_[0]->prefix . '/logs/transcoderd.log' }

sub write_transcoderd_conf {
    my ($self) = @_;
    my $d = $self->{data_dir};
    my ($sec, $store) = ($self->secrets_dir, $self->storage_root);
    $self->write_file($self->transcoderd_conf, <<EOT . $self->{td_extra});
# generated by t/lib/Mam/Stack.pm
redis = unix:@{[ $self->redis_socket ]}
@{[ $self->{redis_auth} ? "redis_password_file = $sec/redis.key\n" : '' ]}@{[
    ($self->{redis_auth} // '') eq 'acl' ? "redis_user = mam\n" : '' ]}callback_url = http://127.0.0.1:$self->{port}/api/preview/callback
callback_key_file = $sec/callback.key
storage_root = $store
log_file = @{[ $self->transcoderd_log ]}
@{[ $self->{s3} ? "s3_endpoint = " . $self->s3_url . "\ns3_path_style = on\n"
   . "s3_buckets = @BUCKETS\ns3_credentials_file = $sec/s3.credentials\n"
   . "work_dir = $d/run\n" : '' ]}
jobs = 1
attempts = 3
backoff_ms = 200
claim_idle_ms = 3000
preset = ultrafast
EOT
}

sub start_transcoderd {
    my ($self) = @_;
    $self->write_transcoderd_conf;
    my $pid = $self->spawn("$BUILD/transcoderd", '-c', $self->transcoderd_conf);
    $self->{transcoderd_pid} = $pid;
    $self->wait_until(sub {
        die "transcoderd exited:\n" . $self->slurp($self->transcoderd_log)
            unless kill 0, $pid;
        $self->slurp($self->transcoderd_log) =~ /started as consumer \S+-$pid/;
    }, 20, 'transcoderd did not start');
    return $pid;
}

sub transcoderd_pid { $_[0]{transcoderd_pid} }

# SIGTERM (or another signal); waits for the exit
sub stop_transcoderd {
    my ($self, $sig) = @_;
    my $pid = delete $self->{transcoderd_pid} or return;
    $self->kill_wait($pid, $sig // 'TERM', 20);
}

# --- webhookd --------------------------------------------------------------

sub webhookd_conf { $_[0]{data_dir} . '/run/webhookd.conf' }
sub webhookd_log  { $_[0]->prefix . '/logs/webhookd.log' }

sub write_webhookd_conf {
    my ($self) = @_;
    my $d = $self->{data_dir};
    $self->write_file($self->webhookd_conf, <<EOT . $self->{wh_extra});
# generated by t/lib/Mam/Stack.pm
postgres = @{[ $self->pg_conninfo ]}
redis = unix:@{[ $self->redis_socket ]}
@{[ $self->{redis_auth} ? "redis_password_file = $d/secrets/redis.key\n" : '' ]}@{[
    ($self->{redis_auth} // '') eq 'acl' ? "redis_user = mam-webhookd\n" : '' ]}log_file = @{[ $self->webhookd_log ]}
workers = 2
timeout = 5
connect_timeout = 2
lease = 10
claim_idle_ms = 3000
EOT
}

sub start_webhookd {
    my ($self) = @_;
    $self->write_webhookd_conf;
    my $pid = $self->spawn("$BUILD/webhookd", '-c', $self->webhookd_conf);
    $self->{webhookd_pid} = $pid;
    $self->wait_until(sub {
        die "webhookd exited:\n" . $self->slurp($self->webhookd_log)
            unless kill 0, $pid;
        -e $self->webhookd_log
            && $self->slurp($self->webhookd_log) =~ /started as consumer \S+-$pid/;
    }, 20, 'webhookd did not start');
    return $pid;
}

sub webhookd_pid { $_[0]{webhookd_pid} }

# SIGTERM (or another signal); waits for the exit
sub stop_webhookd {
    my ($self, $sig) = @_;
    my $pid = delete $self->{webhookd_pid} or return;
    $self->kill_wait($pid, $sig // 'TERM', 20);
}

# --- nginx ----------------------------------------------------------------

sub render_nginx_conf {
    my ($self, %over) = @_;
    my %o = (%$self, %over);
    my $p = $self->prefix;
    my ($sec, $store) = ($self->secrets_dir, $self->storage_root);
    my $module = "$BUILD/modules/ngx_mam_module.so";
    my $user = $self->{as_root} ? "user root;\n" : '';

    my ($load, $mam, $api) = ('', '', '');
    my $conninfo = $o{pg_conninfo} // $self->pg_conninfo;
    $conninfo =~ s/^host=/host=$o{pg_first_host},/ if defined $o{pg_first_host};
    if ($o{module}) {
        $load = "load_module $module;\n"
              . "thread_pool mam threads=$o{thread_pool_threads};\n"
              . $o{main_extra};
        $mam = <<EOT;
    mam_pg "$conninfo";
    mam_pg_pool_size $o{pg_pool_size};
    mam_pg_queue_size $o{pg_queue_size};
    mam_pg_queue_timeout $o{pg_queue_timeout};
    mam_redis unix:@{[ $self->redis_socket ]};
    mam_jwt_key_file $sec/jwt.key;
    mam_sign_key_file $sec/sign.key;
    mam_callback_key_file $sec/callback.key;
@{[ $o{redis_auth} ? "    mam_redis_password_file $sec/redis.key;\n" : '' ]}@{[
    ($o{redis_auth} // '') eq 'acl' ? "    mam_redis_user mam;\n" : '' ]}    mam_json_body_limit $o{json_body_limit};
    mam_thread_pool mam;
    mam_registration $o{registration};
    mam_rate_limits $o{rate_limits};
EOT
        $mam .= "    mam_storage_root $store;\n";
        if ($o{s3}) {
            $mam .= "    mam_s3_endpoint " . $self->s3_url . ";\n"
                  . "    mam_s3_path_style on;\n"
                  . "    mam_s3_buckets @BUCKETS;\n"
                  . "    mam_s3_credentials_file $sec/s3.credentials;\n";
        }
        for my $k (qw(rate_limit_auth rate_limit_api rate_limit_user
                      rate_limit_callback health_deep_allow upload_max_size
                      upload_url_ttl upload_resumable_threshold upload_resumable_ttl
                      upload_part_size staging_ttl housekeeping_interval
                      session_retention audit_retention events_ping
                      preview_reconcile_interval preview_stall_timeout
                      preview_enqueue_grace pg_query_timeout pg_prepare redis_timeout
                      preview_stream_maxlen)) {
            $mam .= "    mam_$k $o{$k};\n" if defined $o{$k};
        }
        $api = "        location /api/ { mam_api; }\n"
             . "        location /auth/ { mam_api; }\n"
             . "        location /upload/ { mam_upload; client_max_body_size 0; }\n"
             . "        location /s/ { mam_edge; }\n"
             . ($o{s3} ? $self->s3_previews_location(%o)
                       : "        location /_mam_previews/ {\n"
                       . "            internal;\n"
                       . "            alias $store/previews/;\n"
                       . "            disable_symlinks on;\n"
                       . "            log_not_found off;\n"
                       . "            error_page 404 = \@mam_not_found;\n"
                       . $self->previews_gzip
                       . "        }\n"
                       . "        location /_mam_masters/ {\n"
                       . "            internal;\n"
                       . "            alias $store/masters/;\n"
                       . "            disable_symlinks on;\n"
                       . "            log_not_found off;\n"
                       . "            error_page 404 = \@mam_not_found;\n"
                       . "        }\n")
             . "        location \@mam_not_found { mam_edge_not_found; }\n"
             . "        # nginx's own refusals in api.md's error shape\n"
             . "        error_page 400 405 413 414 429 494 /_mam_api_error;\n"
             . "        location = /_mam_api_error { internal; mam_api_error; }\n"
             . "        # the same files from a plain static location: the baseline\n"
             . "        location /plain/ { alias $store/previews/; }\n";
    }

    my $html = -d "$ROOT/html"
        ? "        location / {\n"
        . "            root $ROOT/html;\n"
        . "            try_files \$uri /index.html;\n"
        . "            etag on;\n"
        . "            add_header Cache-Control \"no-cache\" always;\n"
        . "            add_header Content-Security-Policy \"" . $self->spa_csp(%o) . "\" always;\n"
        . "            add_header X-Content-Type-Options nosniff always;\n"
        . "            add_header Referrer-Policy same-origin always;\n"
        . "        }\n"
        : "        location / { return 404; }\n";

    return <<EOT;
# generated by t/lib/Mam/Stack.pm
${load}${user}worker_processes $o{workers};
daemon off;
master_process on;
error_log $p/logs/error.log $o{error_log_level};
pid $p/logs/nginx.pid;

events {
    worker_connections 4096;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $p/logs/access.log;
    client_body_temp_path $p/temp/body;
    proxy_temp_path $p/temp/proxy;
    fastcgi_temp_path $p/temp/fastcgi;
    uwsgi_temp_path $p/temp/uwsgi;
    scgi_temp_path $p/temp/scgi;
    sendfile on;

$mam@{[ $o{s3} && $o{edge_cache} ? $self->edge_cache_http : '' ]}$o{http_extra}
    server {
        listen 127.0.0.1:$o{port}@{[ $o{listen_extra} ? " $o{listen_extra}" : '' ]};
$api$o{server_extra}
$html    }
}
EOT
}

# the SPA's Content-Security-Policy, as in conf/nginx.conf; with S3 the
# browser also PUTs to the bucket
sub spa_csp {
    my ($self, %o) = @_;
    my $s3 = $o{s3} ? ' ' . $self->s3_url : '';
    return "default-src 'self'; script-src 'self'; style-src 'self'; "
         . "img-src 'self' data: blob:; media-src 'self' blob:; "
         . "worker-src 'self' blob:; connect-src 'self'$s3; object-src 'none'; "
         . "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

# the edge cache of the S3 layout (README, S3 edge cache), as in
# conf/mam-s3.conf: the http {} part, then the previews location's
sub edge_cache_http {
    my ($self) = @_;
    my $p = $self->prefix;
    return "    proxy_cache_path $p/temp/edge-cache levels=1:2 keys_zone=mam_previews:4m\n"
         . "                     max_size=256m inactive=1h use_temp_path=off;\n"
         . "    log_format mam_edge_cache '\$request_method \$uri \$status "
         . "\$upstream_cache_status \$mam_edge_cache_key';\n";
}
sub edge_cache_location {
    my ($self) = @_;
    my $p = $self->prefix;
    return <<EOT;
            proxy_cache mam_previews;
            proxy_cache_key "\$request_method \$mam_edge_cache_key";
            proxy_cache_convert_head off;
            proxy_cache_valid 200 1h;
            proxy_cache_lock on;
            proxy_ignore_headers Cache-Control Expires;
            proxy_no_cache \$mam_edge_no_cache;
            proxy_cache_bypass \$mam_edge_no_cache;
            access_log $p/logs/edge-cache.log mam_edge_cache;
EOT
}

# the previews location of the S3 layout: a signed proxy_pass to the bucket
sub s3_previews_location {
    my ($self, %o) = @_;
    my $port = $self->s3_port;
    my $cache = $o{edge_cache} ? $self->edge_cache_location : '';
    return <<EOT;
        location /_mam_previews/ {
            internal;
            proxy_pass http://127.0.0.1:$port\$mam_s3_uri;
            proxy_set_header Host \$mam_s3_host;
            proxy_set_header x-amz-date \$mam_s3_date;
            proxy_set_header x-amz-content-sha256 UNSIGNED-PAYLOAD;
            proxy_set_header Authorization \$mam_s3_authorization;
            proxy_set_header Cookie "";
            # ranges are cut by nginx from the object, as for local files
            proxy_set_header Range "";
            proxy_set_header If-Range "";
            proxy_force_ranges on;
            proxy_hide_header x-amz-request-id;
            proxy_intercept_errors on;
            error_page 403 404 = \@mam_not_found;
$cache@{[ $self->previews_gzip ]}        }
EOT
}

# playlists and WebVTT gzipped for clients that accept it, as in conf/
sub previews_gzip {
    return "            gzip on;\n"
         . "            gzip_types application/vnd.apple.mpegurl text/vtt;\n"
         . "            gzip_vary on;\n"
         . "            gzip_proxied any;\n";
}

sub start_nginx {
    my ($self, %over) = @_;
    $self->prepare;
    $self->write_file($self->prefix . '/conf/nginx.conf', $self->render_nginx_conf(%over))
        if %over;
    my $pidfile = $self->prefix . '/logs/nginx.pid';
    unlink $pidfile;
    my $pid = $self->spawn($NGINX, '-p', $self->prefix, '-c',
                           $self->prefix . '/conf/nginx.conf');
    $self->{nginx_pid} = $pid;
    $self->wait_until(sub {
        die "nginx exited:\n" . $self->tail_error_log unless kill 0, $pid;
        -s $pidfile && IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                             PeerPort => $self->{port});
    }, 20, 'nginx did not start');
}

sub stop_nginx {
    my ($self) = @_;
    my $pid = delete $self->{nginx_pid} or return;
    $self->kill_wait($pid, 'QUIT', 20);
}

# a host's nginx dies: SIGKILL to the master and its workers at once (a
# master killed alone leaves its workers serving)
sub kill_nginx {
    my ($self) = @_;
    my @workers = $self->nginx_workers;
    my $pid = delete $self->{nginx_pid} or return;
    kill 'KILL', $pid, @workers;
    waitpid $pid, 0;
    delete $self->{children}{$pid};
    # orphans: init reaps them, or they stay zombies ('Z')
    $self->wait_until(sub {
        !grep { (($self->slurp("/proc/$_/stat") =~ /^\d+ \(.*?\) (\S)/)[0] // 'Z') ne 'Z' } @workers
    }, 10, 'the workers did not die');
}

# restart with the stack's own options plus %over (none: the stack's own)
sub restart_nginx {
    my ($self, %over) = @_;
    $self->stop_nginx;
    $self->write_file($self->prefix . '/conf/nginx.conf', $self->render_nginx_conf(%over));
    $self->start_nginx;
}

sub nginx_pid { $_[0]{nginx_pid} }

sub nginx_workers {
    my ($self) = @_;
    my $m = $self->{nginx_pid} or return ();
    return sort { $a <=> $b } split ' ', `pgrep -P $m`;
}

sub reload_nginx {
    my ($self) = @_;
    my %old = map { $_ => 1 } $self->nginx_workers;
    kill 'HUP', $self->{nginx_pid};
    $self->wait_until(sub {
        my @w = $self->nginx_workers;
        @w >= $self->{workers} && !grep { $old{$_} } @w;
    }, 20, 'nginx did not reload');
}

# ($exit_code, $output) of `nginx -t` on a configuration text
sub nginx_test {
    my ($self, $conf) = @_;
    $self->prepare;
    my $file = $self->prefix . '/conf/test-' . ++$self->{tests} . '.conf';
    $self->write_file($file, $conf);
    return $self->run_quiet($NGINX, '-t', '-p', $self->prefix, '-c', $file);
}

sub error_log_text { $_[0]->slurp($_[0]->error_log) }

sub tail_error_log {
    my ($self) = @_;
    my @lines = split /\n/, $self->error_log_text;
    splice @lines, 0, @lines - 30 if @lines > 30;
    return join("\n", @lines) . "\n";
}

# a test: no crashed worker, no alert, no sanitizer report in error.log
sub check_error_log {
    my ($self) = @_;
    my $text = $self->error_log_text;
    $text .= $self->slurp($_) // '' for glob($self->prefix . '/logs/{asan,ubsan}.*');
    my @bad = grep { /exited on signal|\[alert\]|\[crit\]|AddressSanitizer|runtime error:|LeakSanitizer/ }
              split /\n/, $text;
    Test::More::ok(!@bad, 'error.log: no crash, alert or sanitizer report')
        or Test::More::diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

# --- HTTP -----------------------------------------------------------------

my $JSON = JSON::PP->new->utf8->allow_nonref;

# $s->http(METHOD => '/path', { headers => {...}, content => '...' })
sub http {
    my ($self, $method, $path, $opt) = @_;
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0, max_redirect => 0);
    # an absolute URL as it is (an upload URL of the S3 peer)
    my $r = $ua->request($method, $path =~ m{^https?://} ? $path : $self->url($path), $opt // {});
    if (($r->{headers}{'content-type'} // '') =~ m{^application/json}
        && length $r->{content}) {
        $r->{json} = eval { $JSON->decode($r->{content}) };
    }
    return $r;
}

# $s->api(METHOD => '/path', $body_or_undef, token => $jwt, headers => {...})
# a JSON request; the body is encoded unless it is already a string
sub api {
    my ($self, $method, $path, $body, %opt) = @_;
    my %h = %{ $opt{headers} // {} };
    $h{Authorization} = "Bearer $opt{token}" if defined $opt{token};
    my %req = (headers => \%h);
    if (defined $body) {
        $h{'Content-Type'} //= 'application/json';
        $req{content} = ref $body ? $JSON->encode($body) : $body;
    }
    return $self->http($method, $path, \%req);
}

# register (and log in) a user; returns the login answer's JSON
sub register {
    my ($self, $email, %opt) = @_;
    my $password = $opt{password} // 'correct horse battery';
    my $r = $self->api(POST => '/auth/register',
                       { email => $email, password => $password,
                         display_name => $opt{display_name} // $email });
    die "register $email: $r->{status} $r->{content}\n" unless $r->{status} == 201;
    return $r->{json} if $opt{no_login};
    return $self->login($email, $password);
}

sub login {
    my ($self, $email, $password) = @_;
    my $r = $self->api(POST => '/auth/login',
                       { email => $email,
                         password => $password // 'correct horse battery' });
    die "login $email: $r->{status} $r->{content}\n" unless $r->{status} == 200;
    return $r->{json};
}

# presign + PUT as the holder of $token; returns the staging key
sub upload {
    my ($self, $token, $content, %opt) = @_;
    my $r = $self->api(POST => '/api/presign',
                       { filename => $opt{filename} // 'clip.mp4',
                         content_type => $opt{content_type} // 'video/mp4',
                         size => length $content }, token => $token);
    die "presign: $r->{status} $r->{content}\n" unless $r->{status} == 200;
    my $put = $self->http(PUT => $r->{json}{upload_url},
                          { content => $content, headers => $r->{json}{headers} // {} });
    die "PUT: $put->{status} $put->{content}\n" unless $put->{status} == ($self->{s3} ? 200 : 201);
    return $r->{json}{staging_key};
}

# an asset of $token's user with one staged upload; returns the asset
sub create_asset {
    my ($self, $token, %opt) = @_;
    my $key = $self->upload($token, $opt{content} // 'media bytes', %opt);
    my $r = $self->api(POST => '/api/assets',
                       { title => $opt{title} // 'An asset',
                         (defined $opt{description} ? (description => $opt{description}) : ()),
                         (defined $opt{project_id} ? (project_id => $opt{project_id}) : ()),
                         staging_key => $key }, token => $token);
    die "create asset: $r->{status} $r->{content}\n" unless $r->{status} == 201;
    return $r->{json}{asset};
}

# --- processes and files --------------------------------------------------

# under make test SANITIZE=1: reports go to logs/asan.* and logs/ubsan.*
# (check_error_log reads them); Debian's nginx gets libasan preloaded for
# the sanitized module
sub sanitizer_env {
    my ($self, $cmd) = @_;
    return unless $ENV{MAM_SANITIZE};
    my $logs = $self->prefix . '/logs';
    $ENV{ASAN_OPTIONS} = "detect_leaks=0:log_path=$logs/asan";
    $ENV{UBSAN_OPTIONS} = "print_stacktrace=1:log_path=$logs/ubsan";
    if ($cmd eq $NGINX) {
        chomp(my $asan = `gcc -print-file-name=libasan.so`);
        $ENV{LD_PRELOAD} = $asan;
    }
}

sub spawn {
    my ($self, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $self->sanitizer_env($cmd[0]);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->prefix . '/logs/stdout.log';
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    $self->{children}{$pid} = 1;
    return $pid;
}

sub kill_wait {
    my ($self, $pid, $sig, $timeout) = @_;
    kill $sig, $pid;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) != 0) { delete $self->{children}{$pid}; return }
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    delete $self->{children}{$pid};
}

sub wait_until {
    my ($self, $cond, $timeout, $what) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.02;
    }
    die "Mam::Stack: $what within ${timeout}s\n" . $self->tail_error_log;
}

sub write_file {
    my ($self, $file, $text) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh or die "$file: $!";
}

sub slurp {
    my ($self, $file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

1;
