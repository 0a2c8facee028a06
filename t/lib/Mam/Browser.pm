package Mam::Browser;
# A browser script (t/browser/*.mjs, which prints TAP) run with node, its
# lines passed on as this test's own checks and comments, and its exit
# status checked.
#
#   browser_script('audit.mjs', BASE => $s->base_url, SHOTS => $dir);
use strict;
use warnings;
use Exporter 'import';
use Test::More;
use Mam::Stack;

our @EXPORT_OK = qw(browser_script);

sub browser_script {
    my ($script, %env) = @_;
    open my $node, '-|', 'env', (map { "$_=$env{$_}" } sort keys %env),
        'node', "$Mam::Stack::ROOT/t/browser/$script" or die "node: $!";
    while (my $line = <$node>) {
        chomp $line;
        if ($line =~ /^(not )?ok \d+ - (.*)$/) { ok(!$1, $2) }
        elsif ($line =~ /^#/) { diag($line) }
    }
    close $node;
    is($? >> 8, 0, 'the browser run ended cleanly');
}

1;
