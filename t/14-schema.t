#!/usr/bin/perl
# schema/migrate: every table and index of the seed plus the spec's, roles
# seeded, idempotent, one transaction per file, safe when run concurrently.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use POSIX ();
use Mam::Stack;

my $s = Mam::Stack->new;
$s->prepare;
$s->start_postgres;
my $root = $Mam::Stack::ROOT;

my @files = map { m{/([^/]+)\.sql$} } sort glob "$root/schema/[0-9][0-9][0-9]_*.sql";
my $n = @files;
my $out = $s->migrate;
is($out, join('', map { "applied $_\n" } @files),
   "first run applies the $n migrations in order");
is($s->migrate, '', 'second run applies nothing and prints nothing');
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
              idx_comments_asset_id idx_sessions_user_id idx_sessions_jti
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

done_testing();
