#!/usr/bin/perl
# /api/health names the database's schema (its newest applied migration)
# and the one this build of the module needs (the highest schema/NNN_*.sql
# when it was built), and is 503 saying so when the database is behind: an
# upgrade that reloaded nginx before migrating shows at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

# computed from the files, as the build does
opendir my $d, "$Mam::Stack::ROOT/schema" or die;
my ($newest) = reverse sort map { /^(\d{3}_\w+)\.sql$/ ? $1 : () } readdir $d;
closedir $d;

my $r = $s->http(GET => '/api/health?deep=1');
is($r->{status}, 200, 'a migrated database: 200');
is($r->{json}{schema}, $newest, "health names the schema ($newest)");
is($r->{json}{schema_required}, $newest, '... and the one the module needs');

# the database one migration behind (the newest row renamed out of the way)
$s->psql("UPDATE schema_migrations SET version = '000_behind' WHERE version = '$newest'");
my ($prev) = $s->psql("SELECT max(version) FROM schema_migrations");
chomp $prev;
$r = $s->http(GET => '/api/health?deep=1');
is($r->{status}, 503, 'migrations behind the module: 503');
is($r->{json}{error}, 'unavailable', '... unavailable');
is($r->{json}{schema}, $prev, "... naming the database's schema ($prev)");
like($r->{json}{message}, qr/schema is behind this module: \Q$prev\E applied, \Q$newest\E needed; run the migrations/,
     '... and saying why');
is($r->{json}{postgres}, 'ok', '... while PostgreSQL itself is up');
ok(eval { $s->wait_until(sub { $s->http(GET => "/api/health")->{status} == 503 }, 5,
               "the cached check") }, "the cached plain check says so too");

$s->psql("UPDATE schema_migrations SET version = '$newest' WHERE version = '000_behind'");
$r = $s->http(GET => '/api/health?deep=1');
is($r->{status}, 200, 'migrated again: 200');
done_testing();
