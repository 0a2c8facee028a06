package Mam::Sql;
# The module's read statements, exactly as it sends them: a tiny C program
# that includes ngx_mam_module/ngx_mam_sql.h prints one macro.  The
# benchmarks run these texts (pgbench, the Fastify baseline) and never keep
# a copy of their own, so a change to the header is measured as it is.
#
#   my $sql = sql_text('NGX_MAM_SQL_ASSET_LIST');
#   my $pg  = pgbench_text($sql);   # $1..$n as pgbench's :p1..:pn
#   my $set = session_sql();        # "SET plan_cache_mode = ...; ..."
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Exporter 'import';

our @EXPORT_OK = qw(sql_text pgbench_text session_sql);

my $HEADER_DIR = abs_path(dirname(__FILE__) . '/../../..') . '/ngx_mam_module';
my %cache;
my $dir;

sub sql_text {
    my ($name) = @_;
    die "Mam::Sql: $name is not an NGX_MAM_SQL_ macro\n" unless $name =~ /^NGX_MAM_SQL_\w+$/;
    return $cache{$name} //= do {
        $dir //= tempdir(TMPDIR => 1, CLEANUP => 1);
        open my $fh, '>', "$dir/$name.c" or die "$dir/$name.c: $!";
        print $fh qq{#include <stdio.h>\n#include "ngx_mam_sql.h"\n}
                . qq{int main(void) { return fputs($name, stdout) < 0; }\n};
        close $fh or die "$dir/$name.c: $!";
        my $out = `cc -I$HEADER_DIR -o $dir/$name $dir/$name.c 2>&1`;
        die "Mam::Sql: cannot compile $name:\n$out" if $?;
        my $text = `$dir/$name`;
        die "Mam::Sql: $name printed nothing\n" if $? || !length $text;
        $text;
    };
}

# the settings the module's sessions run with (NGX_MAM_PG_SESSION_OPTIONS
# of ngx_mam_pg.c, "-c name=value" each) as SET statements, so that a
# plan checked by hand is the plan the module gets
sub session_sql {
    my $file = "$HEADER_DIR/ngx_mam_pg.c";
    open my $fh, '<', $file or die "Mam::Sql: $file: $!";
    my $c = do { local $/; <$fh> };
    my ($opts) = $c =~ /#define NGX_MAM_PG_SESSION_OPTIONS\s*\\?\s*"([^"]+)"/
        or die "Mam::Sql: no NGX_MAM_PG_SESSION_OPTIONS in $file\n";
    my @set = $opts =~ /-c (\w+)=(\S+)/g or die "Mam::Sql: no -c in \"$opts\"\n";
    my $sql = '';
    $sql .= "SET $set[$_ * 2] = $set[$_ * 2 + 1]; " for 0 .. $#set / 2;
    return $sql;
}

# pgbench -M prepared sends :name variables (set with -D name=value) as the
# statement's parameters, so $n becomes :pn and the statement stays the
# module's: PostgreSQL infers the parameters' types the same way
sub pgbench_text {
    my ($sql) = @_;
    (my $text = $sql) =~ s/\$(\d+)/:p$1/g;
    return "$text;\n";
}

1;
