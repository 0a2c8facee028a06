#!/usr/bin/perl
# schema/migrate: every table and index of the seed plus the spec's, roles
# seeded, idempotent, one transaction per file, safe when run concurrently.
# The layout: tables in numbered migrations, each function (and trigger)
# defined once, in schema/functions/, applied after them on every run; a
# database migrated with the numbered files as they were before the
# functions moved out (at any point) ends up like a fresh one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use File::Path qw(make_path);
use POSIX ();
use Mam::Stack;

my $s = Mam::Stack->new;
$s->prepare;
$s->start_postgres;
my $root = $Mam::Stack::ROOT;

my @files = map { m{/([^/]+)\.sql$} } sort glob "$root/schema/[0-9][0-9][0-9]_*.sql";
my $n = @files;
my @function_files = sort glob "$root/schema/functions/*.sql";

# --- the layout, from the files alone ---------------------------------------

# SQL text without its comments (a comment may name a function)
sub sql_of {
    my ($file) = @_;
    my $t = $s->slurp($file);
    $t =~ s/--[^\n]*//g;
    return $t;
}

my %defined;    # function name => files defining it
my %triggers;   # trigger name => files defining it
for my $f (@function_files) {
    my $t = sql_of($f);
    (my $name = $f) =~ s{.*/}{};
    push @{ $defined{lc $1} }, $name
        while $t =~ /\bCREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)\s*\(/gi;
    push @{ $triggers{lc $1} }, $name
        while $t =~ /\bCREATE\s+OR\s+REPLACE\s+TRIGGER\s+(\w+)/gi;
    ok($t !~ /\bCREATE\s+(?:FUNCTION|TRIGGER)\b/i,
       "functions/$name: only CREATE OR REPLACE (applied on every run)");
}
ok(keys %defined > 40, scalar(keys %defined) . ' functions in schema/functions/');
my @twice = grep { @{ $defined{$_} } > 1 } sort keys %defined;
is("@twice", '', 'no function is defined twice across schema/functions/');
for my $f (@files) {
    my $t = sql_of("$root/schema/$f.sql");
    my @defs = $t =~ /\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|TRIGGER|PROCEDURE)\s+(\w+)/gi;
    is("@defs", '', "$f defines no function or trigger");
    my @drops = $t =~ /\bDROP\s+FUNCTION\s+(?!IF\s+EXISTS)(\w+)/gi;
    is("@drops", '', "$f drops functions only IF EXISTS (a fresh database never had them)");
}

# --- migrate ----------------------------------------------------------------

my $out = $s->migrate;
is($out, join('', map { "applied $_\n" } @files),
   "first run applies the $n migrations in order (the functions silently)");

# What the schema is, to compare databases: every function's and trigger's
# definition and pg_dump's schema-only text.
sub conninfo_of { (my $c = $s->pg_conninfo) =~ s/dbname=mam/dbname=$_[0]/; $c }
sub schema_of {
    my ($db) = @_;
    my $functions = $s->psql_as('mam', $db, q{
        SELECT string_agg(pg_get_functiondef(p.oid), E'\n' ORDER BY p.oid::regprocedure::text)
          FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace});
    my $triggers = $s->psql_as('mam', $db, q{
        SELECT string_agg(pg_get_triggerdef(t.oid), E'\n' ORDER BY t.tgname)
          FROM pg_trigger t WHERE NOT t.tgisinternal});
    my ($rc, $dump) = $s->run_quiet("$Mam::Stack::PGBIN/pg_dump", '--schema-only',
        '-h', $s->pg_socket_dir, '-U', 'mam', '-d', $db);
    die "pg_dump $db: $dump" if $rc;
    # pg_dump 15.14 and later fence the dump with a random key
    $dump =~ s/^\\(?:un)?restrict .*\n//mg;
    return { functions => $functions, triggers => $triggers, dump => $dump };
}

my $first = schema_of('mam');
is($s->migrate, '', 'second run applies nothing and prints nothing');
is_deeply(schema_of('mam'), $first,
          '... and its functions and triggers are the same (a no-op)');

my %in_db = map { $_ => 1 } split /\n/, $s->psql(q{
    SELECT DISTINCT proname FROM pg_proc
     WHERE pronamespace = 'public'::regnamespace});
is(join(' ', sort keys %in_db), join(' ', sort keys %defined),
   'the database has exactly the functions of schema/functions/');
is($s->psql(q{SELECT string_agg(tgname, ' ' ORDER BY tgname) FROM pg_trigger
              WHERE NOT tgisinternal}) =~ s/\n//r,
   join(' ', sort keys %triggers),
   '... and exactly its triggers');

# applied on every run: a definition changed by hand is put back
$s->psql(q{CREATE OR REPLACE FUNCTION mam_time(t timestamptz) RETURNS text
           LANGUAGE sql IMMUTABLE AS $$ SELECT 'changed' $$});
$s->psql('DROP TRIGGER users_touch ON users');
is($s->migrate, '', 'a run after a function was changed by hand prints nothing');
is_deeply(schema_of('mam'), $first, '... and puts schema/functions/ back');
is($s->psql('SELECT count(*) FROM schema_migrations'), "$n\n",
   'one row per migration in schema_migrations');

my %tables = map { $_ => 1 } split /\n/,
    $s->psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
for my $t (qw(users assets versions comments sessions roles user_roles
              uploads preview_jobs audit_log schema_migrations)) {
    ok($tables{$t}, "table $t exists");
}

my %indexes = map { $_ => 1 } split /\n/,
    $s->psql("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'");
for my $i (qw(idx_assets_user_id idx_assets_created_at idx_versions_asset_id
              comments_threads_idx comments_replies_idx idx_sessions_user_id idx_sessions_jti
              assets_search_idx users_email_lower_key)) {
    ok($indexes{$i}, "index $i exists");
}
like($s->psql("SELECT indexdef FROM pg_indexes WHERE indexname = 'assets_search_idx'"),
     qr/USING gin \(search\)/, 'the search column has a GIN index');

is($s->psql('SELECT string_agg(name, \',\' ORDER BY name) FROM roles'),
   "admin,editor,viewer\n", 'roles viewer, editor, admin are seeded');

# the constraints the API relies on are the database's, not only the code's
my $uid = $s->psql(q{INSERT INTO users (email, display_name, password_hash)
                     VALUES ('A@Example.com', 'A', 'x') RETURNING id});
chomp $uid;
ok(!eval { $s->psql(q{INSERT INTO users (email, display_name, password_hash)
                      VALUES ('a@example.COM', 'B', 'x')}); 1 },
   'emails are unique case-insensitively');
ok(!eval { $s->psql("UPDATE users SET status = 'bogus' WHERE id = '$uid'"); 1 },
   'user status is checked');
my $aid = $s->psql(qq{INSERT INTO assets (user_id, title, description)
                      VALUES ('$uid', 'Sunset over harbour', 'drone footage')
                      RETURNING id});
chomp $aid;
is($s->psql(q{SELECT count(*) FROM assets
              WHERE search @@ to_tsquery('simple', 'harb:* & dron:*')}), "1\n",
   'prefix search over title and description finds the asset');
ok(!eval { $s->psql(qq{INSERT INTO versions (asset_id, number, master_key, size)
                       VALUES ('$aid', 0, 'k0', 1)}); 1 },
   'version numbers start at 1');
$s->psql(qq{INSERT INTO versions (asset_id, number, master_key, size)
            VALUES ('$aid', 1, 'k1', 1)});
ok(!eval { $s->psql(qq{INSERT INTO versions (asset_id, number, master_key, size)
                       VALUES ('$aid', 1, 'k2', 1)}); 1 },
   'a version number is unique per asset');
ok(!eval { $s->psql(qq{INSERT INTO comments (asset_id, user_id, timestamp_sec, content)
                       VALUES ('$aid', '$uid', -1, 'x')}); 1 },
   'comment timestamps are >= 0');
ok(!eval { $s->psql(qq{DELETE FROM assets WHERE id = '$aid'}); 1 },
   'an asset with versions cannot be hard-deleted (masters keep their record)');

# a failing migration leaves nothing behind and fails the runner
my $dir = tempdir(CLEANUP => 1);
copy("$root/schema/$_", "$dir/$_") or die for 'migrate', map { "$_.sql" } @files;
chmod 0755, "$dir/migrate";
make_path("$dir/functions");
copy($_, "$dir/functions/") or die for @function_files;
open my $fh, '>', "$dir/999_broken.sql" or die;
print $fh "CREATE TABLE half_done (a int);\nSELECT 1 / 0;\n";
close $fh;
my ($rc, $err) = $s->run_quiet("$dir/migrate", $s->pg_conninfo);
isnt($rc, 0, 'a failing migration makes the runner fail');
like($err, qr/division by zero/, "... with PostgreSQL's message");
is($s->psql(q{SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'}),
   "0\n", '... and its partial work is rolled back');
is($s->psql('SELECT count(*) FROM schema_migrations'), "$n\n",
   '... and it is not recorded');
unlink "$dir/999_broken.sql";

# a function whose body names a missing table fails the run (the second
# pass checks bodies), and the functions' transaction leaves nothing behind
open $fh, '>', "$dir/functions/zz_broken.sql" or die;
print $fh "CREATE OR REPLACE FUNCTION mam_probe() RETURNS bigint\n"
        . "LANGUAGE sql AS \$\$ SELECT count(*) FROM no_such_table \$\$;\n";
close $fh;
$s->psql(q{CREATE OR REPLACE FUNCTION mam_time(t timestamptz) RETURNS text
           LANGUAGE sql IMMUTABLE AS $$ SELECT 'changed' $$});
($rc, $err) = $s->run_quiet("$dir/migrate", $s->pg_conninfo);
isnt($rc, 0, 'a function file that does not apply makes the runner fail');
like($err, qr/"no_such_table" does not exist/, "... with PostgreSQL's message");
is($s->psql(q{SELECT count(*) FROM pg_proc WHERE proname = 'mam_probe'}), "0\n",
   '... the function is not there');
is($s->psql(q{SELECT mam_time('2020-01-01Z')}), "changed\n",
   '... nor are the other files applied (one transaction)');
$s->migrate;

# two runners at once on a fresh database: applied exactly once
$s->psql_as('postgres', 'postgres', 'CREATE DATABASE race OWNER mam');
(my $race = $s->pg_conninfo) =~ s/dbname=mam/dbname=race/;
my @pids = map {
    my $pid = fork // die;
    if (!$pid) { exec("$root/schema/migrate", $race) or POSIX::_exit(127) }
    $pid;
} 1 .. 2;
my @rcs = map { waitpid($_, 0); $? >> 8 } @pids;
is_deeply(\@rcs, [0, 0], 'two concurrent runners both succeed');
is($s->psql_as('mam', 'race', 'SELECT count(*) FROM schema_migrations'), "$n\n",
   '... and each migration is applied once');
is_deeply(schema_of('race'), schema_of('mam'), '... to the same schema');

# --- the numbered migrations as they were, then this runner -------------------

# Before schema/functions/ existed the migrations defined the functions
# themselves (and redefined them).  A database migrated with those files,
# fully or up to any of them, and then by this runner must end up with the
# same functions, triggers and tables as a fresh one: this proves the move
# (git history has the old files) and, later on, that a function removed
# from schema/functions/ has its DROP in a migration.
SKIP: {
    my $git = sub { my $o = qx{git -c safe.directory='*' -C \Q$root\E @_ 2>/dev/null}; $? ? undef : $o };
    my ($added) = reverse split /\n/,
        $git->('log --diff-filter=A --format=%H -- schema/functions') // '';
    my $old = $added && $git->("rev-parse --verify -q $added^");
    skip 'no git history of the move to schema/functions/ here', 1 unless $old;
    chomp $old;
    my @old = grep { m{^schema/[0-9]{3}_[^/]*\.sql$} } split /\n/,
        $git->("ls-tree --name-only $old schema/") // '';
    skip "no old migrations at $old", 1 unless @old;

    # schema/ of commit $c (files named by a pattern) in a new directory, and
    # a new database migrated by that copy
    my $checkout = sub {
        my ($c, $pattern) = @_;
        my $d = tempdir(CLEANUP => 1);
        make_path("$d/functions");
        for my $f (grep { m{^schema/(?:$pattern)$} } split /\n/,
                   $git->("ls-tree -r --name-only $c schema/") // '') {
            (my $rel = $f) =~ s{^schema/}{};
            $s->write_file("$d/$rel", $git->("show $c:$f") // die "git show $c:$f");
        }
        chmod 0755, "$d/migrate";
        return $d;
    };
    my $migrated = sub {
        my ($db, $d) = @_;
        $s->psql_as('postgres', 'postgres', "CREATE DATABASE $db OWNER mam");
        my ($rc, $o) = $s->run_quiet("$d/migrate", conninfo_of($db));
        die "$d/migrate $db: $o" if $rc;
    };

    # the move itself: the old files and the commit that made
    # schema/functions/ give the same schema (compared below, before this
    # runner touches the database of all the old files)
    $migrated->('moved', $checkout->($added, 'migrate|[0-9]{3}_[^/]*\.sql|functions/[^/]*\.sql'));
    my $moved = schema_of('moved');

    # Stopping just before each old migration that drops a function covers
    # every DROP FUNCTION IF EXISTS that finds something to drop (each old
    # signature is there at one of those points); then all the old files.
    my @upto = grep { $git->("show $old:$old[$_]") =~ /^DROP FUNCTION/m } 1 .. $#old;
    my $fresh = schema_of('race');
    for my $upto (@upto, scalar @old) {
        my $last = $old[$upto - 1] =~ s{^schema/}{}r;
        my $d = $checkout->($old, 'migrate|'
            . join('|', map { quotemeta s{^schema/}{}r } @old[0 .. $upto - 1]));
        my $db = "old$upto";
        $migrated->($db, $d);
        is_deeply(schema_of($db), $moved,
                  "the functions' move ($added) changed no function, trigger or table")
            if $upto == @old;
        my ($rc, $o) = $s->run_quiet("$root/schema/migrate", conninfo_of($db));
        die "migrate after old $upto: $o" if $rc;
        my $got = schema_of($db);
        my @differ = grep { $got->{$_} ne $fresh->{$_} } sort keys %$fresh;
        is("@differ", '', "migrated with the old files up to $last, "
                        . 'then this runner: the same schema as a fresh database');
        $s->psql_as('postgres', 'postgres', "DROP DATABASE $db");
    }
}

done_testing();
