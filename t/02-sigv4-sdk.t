#!/usr/bin/perl
# libmam's SigV4 against the AWS SDK for JavaScript's own signer, byte for
# byte: the same cases (t/unit/sigv4-cases.json: headers-signed requests
# and presigned URLs, keys with spaces, unicode and reserved characters),
# the same clock.  (AWS's published examples are checked in t/unit/sigv4.c.)
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $cases = "$root/t/unit/sigv4-cases.json";
plan skip_all => 'node_modules missing (make spa)' unless -d "$root/node_modules/\@smithy/signature-v4";

my %ours = map { /^(\S+) (.*)$/ ? ($1 => $2) : () } `$root/build/t/unit/sigv4 $cases`;
my %sdk = map { /^(\S+) (.*)$/ ? ($1 => $2) : () } `cd $root && node t/sigv4-sdk.mjs $cases`;

ok(scalar(keys %sdk) >= 10, scalar(keys %sdk) . ' cases signed by the SDK');
for my $name (sort keys %sdk) {
    is($ours{$name}, $sdk{$name}, "$name: libmam signs exactly as the AWS SDK");
    unlike($ours{$name} // '', qr/ERROR/, "... without error");
}
done_testing();
