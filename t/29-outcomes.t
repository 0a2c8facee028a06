#!/usr/bin/perl
# Outcome names: the SQL functions (schema/functions/) define them, the C
# route table's outcome maps and the handlers compare against them.  Every
# name the C code knows must be one a SQL function can answer, so a typo
# or a renamed outcome on one side fails here instead of turning a refusal
# into a 500.  (No stack: it reads the sources.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;

my $root = $Mam::Stack::ROOT;

sub slurp { local (@ARGV, $/) = @_; return <> }

my $sql = join "\n", map { slurp($_) } glob("$root/schema/functions/*.sql"), glob("$root/schema/[0-9]*.sql");
my %sql_literal = map { $_ => 1 } $sql =~ /'([a-z_]+)'/g;
my %sql_outcome = map { $_ => 1 } $sql =~ /'outcome',\s*'([a-z_]+)'/g;
ok(keys %sql_outcome >= 10, scalar(keys %sql_outcome) . ' outcomes answered by SQL functions');

my (%c_outcome, %where);
for my $file (glob "$root/ngx_mam_module/*.c") {
    my $c = slurp($file);
    my ($name) = $file =~ m{([^/]+)$};
    for my $o ($c =~ /ngx_mam_outcome\(\s*\w+\s*,\s*"([a-z_]+)"\s*\)/g,
               $c =~ /\{\s*"([a-z_]+)",\s*NGX_HTTP_/g) {
        $c_outcome{$o} = 1;
        $where{$o} //= $name;
    }
}
ok(keys %c_outcome >= 10, scalar(keys %c_outcome) . ' outcome names in the module');

for my $o (sort keys %c_outcome) {
    ok($sql_outcome{$o} || $sql_literal{$o},
       "\"$o\" ($where{$o}) is an outcome the SQL can answer");
}

# the maps of the statement routes: every refusal an asset or comment
# function answers has its row (else the client gets a 500)
for my $case (['mam_comment_delete', qr/ngx_mam_comment_delete_outcomes\[\] = \{(.*?)\};/s, 'ngx_mam_comments.c'],
              ['mam_comment_create', qr/ngx_mam_comment_create_outcomes\[\] = \{(.*?)\};/s, 'ngx_mam_comments.c'],
              ['mam_asset_update', qr/ngx_mam_asset_outcomes\[\] = \{(.*?)\};/s, 'ngx_mam_assets.c']) {
    my ($fn, $re, $file) = @$case;
    my ($body) = $sql =~ /FUNCTION $fn\(.*?\$\$(.*?)\$\$/s;
    ok(defined $body, "$fn is in schema/functions") or next;
    my ($map) = slurp("$root/ngx_mam_module/$file") =~ $re;
    my %mapped = map { $_ => 1 } ($map // '') =~ /"([a-z_]+)"/g;
    my @refusals = grep { $_ ne 'ok' } $body =~ /'outcome',\s*'([a-z_]+)'/g;
    my @missing = grep { !$mapped{$_} } @refusals;
    is_deeply(\@missing, [], "every refusal of $fn has a row in its outcome map");
}

done_testing();
