#!/usr/bin/perl
# Runs the C unit tests (TAP producers built by `make unit`) as subtests.
use strict;
use warnings;
use FindBin;
use Test::More;

my $dir = ($ENV{MAM_BUILD} || "$FindBin::Bin/../build") . '/t/unit';
my @bins = grep { -x && -f } glob "$dir/*";
ok(@bins, 'unit test binaries are built') or BAIL_OUT('run make unit');

for my $bin (@bins) {
    my $name = (split m{/}, $bin)[-1];
    subtest $name => sub {
        my @out = `$bin 2>&1`;
        my $status = $?;
        my ($plan) = map { /^1\.\.(\d+)/ ? $1 : () } @out;
        for (@out) {
            if (/^(not )?ok \d+ - (.*)$/) { ok(!$1, $2) }
            elsif (/^#/) { diag($_) }
        }
        ok(defined $plan && $plan > 0, 'plan printed');
        is($status, 0, 'exit status 0');
    };
}

done_testing();
