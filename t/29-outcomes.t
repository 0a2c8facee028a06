#!/usr/bin/perl
# Outcome names are defined once, in libmam/mam_outcomes.def: the C enum
# (libmam/mam_outcome.h) is made from it, and schema/migrate makes the
# CHECK of the SQL domain mam_outcome from it on every run, through which
# every SQL function builds the outcome it answers.  Here: the sources
# keep to that arrangement (every outcome built through the domain, every
# name of either side in the list, every refusal of a statement route in
# its map), and a real PostgreSQL refuses a name that is not in the list
# when a function answers it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use File::Path qw(make_path);
use Mam::Stack;

my $root = $Mam::Stack::ROOT;

sub slurp { local (@ARGV, $/) = @_; return <> }

# SQL text without its comments (a comment may name an outcome)
sub sql_of { my $t = slurp($_[0]); $t =~ s/--[^\n]*//g; return $t }

# --- the list -----------------------------------------------------------------

my $def = slurp("$root/libmam/mam_outcomes.def");
my @entries = $def =~ /^MAM_OUTCOME\((\w+), "([a-z_]+)"\)$/mg;
my %listed;
while (my ($id, $name) = splice @entries, 0, 2) {
    is($id, uc $name, "MAM_OUTCOME($id, \"$name\"): the id is the name in capitals");
    ok(!$listed{$name}++, "\"$name\" is listed once");
}
my @lines = $def =~ /^\s*(MAM_OUTCOME.*)$/mg;
is(scalar @lines, scalar keys %listed,
   'every MAM_OUTCOME line of the list is one that schema/migrate reads');
ok(keys %listed >= 20, scalar(keys %listed) . ' outcomes in the list');

# --- the SQL side ---------------------------------------------------------------

my %fn;       # function name => body
my %answered; # outcome name => a function that answers it
for my $file (glob "$root/schema/functions/*.sql") {
    my $sql = sql_of($file);
    while ($sql =~ /FUNCTION\s+(\w+)\s*\(.*?\$\$(.*?)\$\$/sg) {
        $fn{$1} = $2;
    }
    (my $name = $file) =~ s{.*/}{};
    my @bare = $sql =~ /'outcome',\s*('[a-z_]+')(?!::mam_outcome)/g;
    is("@bare", '', "functions/$name: every literal outcome is 'name'::mam_outcome");
    my @untyped = grep { !/::mam_outcome|^v_out$|^CASE\b/ }
                  $sql =~ /'outcome',\s*([^\s,)]+)/g;
    is("@untyped", '', "functions/$name: every outcome is built through the domain");
}
for my $f (sort keys %fn) {
    $answered{$_} //= $f for $fn{$f} =~ /'([a-z_]+)'::mam_outcome/g;
}
# mam_upload_state answers an upload's status as its outcome
my $resumable = sql_of("$root/schema/008_resumable.sql");
my ($statuses) = $resumable =~ /uploads_status_check\s+CHECK \(status IN \(([^)]*)\)\)/s;
ok(defined $statuses, 'the statuses of an upload (008) are found');
my @statuses = ($statuses // '') =~ /'([a-z_]+)'/g;
$answered{$_} //= 'mam_upload_state' for @statuses;
like($fn{mam_upload_state} // '', qr/'outcome', status::mam_outcome/,
     'mam_upload_state answers the status through the domain');

for my $o (sort keys %answered) {
    ok($listed{$o}, "\"$o\" ($answered{$o}) is in the list");
}
for my $o (sort keys %listed) {
    ok($answered{$o}, "\"$o\" of the list is answered by a SQL function");
}

# --- the C side -----------------------------------------------------------------

my (%c_used, %where);
for my $file (glob("$root/ngx_mam_module/*.[ch]"), glob("$root/libmam/*.c")) {
    my ($name) = $file =~ m{([^/]+)$};
    for my $id (slurp($file) =~ /\bMAM_OUTCOME_(\w+)/g) {
        next if $id =~ /^(?:NONE|COUNT)$/;
        $c_used{lc $id} = 1;
        $where{lc $id} //= $name;
    }
}
ok(keys %c_used >= 15, scalar(keys %c_used) . ' outcomes used in C');
for my $o (sort keys %c_used) {
    ok($listed{$o} && $answered{$o},
       "MAM_OUTCOME_\U$o\E ($where{$o}) is in the list and answered by SQL");
}
my @strings;
for my $file (glob "$root/ngx_mam_module/*.c") {
    my $c = slurp($file);
    push @strings, $file =~ s{.*/}{}r
        if $c =~ /ngx_mam_outcome\(\s*\w+\s*,\s*"/ || $c =~ /\{\s*"[a-z_]+",\s*NGX_HTTP_/;
}
is("@strings", '', 'no C compares an outcome by its name');

# the maps of the statement routes and handlers: every refusal their
# function answers has its row (else the client gets a 500)
my $maps = 0;
for my $file (glob "$root/ngx_mam_module/*.c") {
    my $c = slurp($file);
    my ($fname) = $file =~ m{([^/]+)$};
    while ($c =~ /ngx_mam_statement_t\s+(\w+)\s*=\s*\{(.*?)\};/sg) {
        my ($st, $init) = ($1, $2);
        my ($sqlfn) = $init =~ /SELECT (mam_\w+)\(/;
        my ($map) = $init =~ /\b(ngx_mam_\w+_outcomes)\b/;
        next unless $sqlfn && $map;
        $maps++;
        ok(defined $fn{$sqlfn}, "$st: $sqlfn is in schema/functions") or next;
        my ($rows) = $c =~ /\Q$map\E\[\] = \{(.*?)\};/s;
        my %mapped = map { lc($_) => 1 } ($rows // '') =~ /MAM_OUTCOME_(\w+)/g;
        my @refusals = grep { $_ ne 'ok' } $fn{$sqlfn} =~ /'([a-z_]+)'::mam_outcome/g;
        my @missing = grep { !$mapped{$_} } @refusals;
        is("@missing", '', "$st ($fname): every refusal of $sqlfn has a row in $map");
    }
}
ok($maps >= 3, "$maps statement routes answer through an outcome map");

# --- a real PostgreSQL ------------------------------------------------------------

my $s = Mam::Stack->new;
$s->prepare;
$s->start_postgres;
$s->migrate;

sub refused {
    my ($sql) = @_;
    my $ok = eval { $s->psql($sql); 1 };
    return $ok ? '' : $@;
}

my $names = join ', ', map { "'$_'" } sort keys %listed;
is($s->psql("SELECT count(*) FROM unnest(ARRAY[$names]) n
              WHERE n::mam_outcome IS NOT NULL"),
   scalar(keys %listed) . "\n", 'the domain accepts every name of the list');
is($s->psql(q{SELECT count(*) FROM unnest(ARRAY['} . join("', '", @statuses)
             . q{']) n WHERE n::mam_outcome IS NOT NULL}),
   scalar(@statuses) . "\n", '... and every status of an upload');
like(refused(q{SELECT 'no_such_outcome'::mam_outcome}),
     qr/violates check constraint "mam_outcome_names"/,
     'a name not in the list is refused');

# a function written as those of schema/functions/ is created (bodies are
# checked, not run) but fails when it answers a name not in the list
for my $lang (['sql', q{SELECT jsonb_build_object('outcome', 'no_such_outcome'::mam_outcome)}],
              ['plpgsql', q{DECLARE o mam_outcome := 'ok'; BEGIN o := 'no_such_outcome';
                            RETURN jsonb_build_object('outcome', o); END}]) {
    my ($l, $body) = @$lang;
    like(refused(qq{SET check_function_bodies = on;
                    CREATE FUNCTION pg_temp.probe() RETURNS jsonb LANGUAGE $l
                        AS \$\$ $body \$\$;
                    SELECT pg_temp.probe()}),
         qr/violates check constraint "mam_outcome_names"/,
         "a $l function answering a name not in the list fails when it runs");
}

# a real function: mam_upload_state answers "missing" for an unknown id,
# and fails once "missing" is not in the list (the change rolled back)
is($s->psql(q{SELECT mam_upload_state(gen_random_uuid())->>'outcome'}), "missing\n",
   'mam_upload_state answers "missing" through the domain');
like(refused(q{BEGIN;
               ALTER DOMAIN mam_outcome DROP CONSTRAINT mam_outcome_names;
               ALTER DOMAIN mam_outcome ADD CONSTRAINT mam_outcome_names
                   CHECK (VALUE IN ('ok'));
               SELECT mam_upload_state(gen_random_uuid());
               ROLLBACK}),
     qr/violates check constraint "mam_outcome_names"/,
     '... and fails at runtime when "missing" is not in the list');

# the domain's CHECK is made from the file on every run: a name added to a
# copy of the list is accepted after a run of that copy's migrate, and
# refused again after the project's own
my $dir = tempdir(CLEANUP => 1);
make_path("$dir/schema/functions", "$dir/libmam");
copy($_, "$dir/schema/") or die for glob("$root/schema/[0-9]*.sql"), "$root/schema/migrate";
copy($_, "$dir/schema/functions/") or die for glob "$root/schema/functions/*.sql";
chmod 0755, "$dir/schema/migrate";
$s->write_file("$dir/libmam/mam_outcomes.def", $def . qq{MAM_OUTCOME(PROBED, "probed")\n});
my ($rc, $out) = $s->run_quiet("$dir/schema/migrate", $s->pg_conninfo);
is($rc, 0, 'migrate with a name added to the list') or diag $out;
is($s->psql(q{SELECT 'probed'::mam_outcome}), "probed\n", '... accepts the name');
is($s->migrate, '', "the project's migrate prints nothing");
like(refused(q{SELECT 'probed'::mam_outcome}), qr/mam_outcome_names/,
     '... and puts its own list back');

# a list migrate cannot read fails the run and changes nothing
$s->write_file("$dir/libmam/mam_outcomes.def", $def . qq{MAM_OUTCOME(Broken, 'broken')\n});
($rc, $out) = $s->run_quiet("$dir/schema/migrate", $s->pg_conninfo);
isnt($rc, 0, 'a list with a line migrate cannot read fails the run');
like($out, qr/no readable outcome list/, '... saying so');
is($s->psql(q{SELECT 'ok'::mam_outcome}), "ok\n", '... and the domain is as it was');
like(refused(q{SELECT 'broken'::mam_outcome}), qr/mam_outcome_names/,
     '... refusing what it refused');

done_testing();
