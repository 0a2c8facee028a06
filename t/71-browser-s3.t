#!/usr/bin/perl
# The SPA's resumable upload on S3 storage in a real browser
# (t/browser/s3-upload.mjs): parts straight to S3, a reload, a resume; the
# master that arrives in the masters bucket is the file.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use Mam::Stack;

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $s = Mam::Stack->new(s3 => 1, upload_part_size => '5m');
$s->start;
my $dir = tempdir(CLEANUP => 1);
my $big = "$dir/parts.mov";
system("head -c " . (40 * 1024 * 1024) . " /dev/urandom > $big") == 0 or die;
# the upload cancelled: a file on disk (a 40 MiB buffer handed to
# setInputFiles outlasts its timeout)
link($big, "$dir/cancel-me.mov") or die "link: $!";
my $small = "$dir/small.mov";
system("head -c 100000 /dev/urandom > $small") == 0 or die;

open my $node, '-|', 'env', "BASE=" . $s->base_url, "BIG=$big", "CANCEL_ME=$dir/cancel-me.mov",
    "SMALL=$small", "S3=" . $s->s3_url,
    'node', "$root/t/browser/s3-upload.mjs" or die "node: $!";
while (my $line = <$node>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)$/) { ok(!$1, $2) }
    elsif ($line =~ /^#/) { diag($line) }
}
close $node;
is($? >> 8, 0, 'the browser run ended cleanly');

my ($id) = $s->psql("SELECT id FROM assets WHERE title = 'parts'") =~ /(\S+)/;
my $master = $s->s3_object('mam-masters', "masters/" . ($id // 'none') . "/v1/original.mov");
is(defined $master ? sha256_hex($master) : 'missing', Digest::SHA->new(256)->addfile($big, 'b')->hexdigest,
   "the master in S3 is the file, byte for byte");
is($s->s3_sse('mam-masters', "masters/" . ($id // 'none') . "/v1/original.mov"), 'AES256',
   '... written encrypted (the S3 peer refuses any write without SSE)');

my ($sid) = $s->psql("SELECT id FROM assets WHERE title = 'small'") =~ /(\S+)/;
is($s->s3_sse('mam-masters', "masters/" . ($sid // 'none') . "/v1/original.mov"), 'AES256',
   'the small file\'s master is written encrypted too');

is($s->psql("SELECT count(*) FROM assets WHERE title = 'cancel-me'"), "0\n",
   'the cancelled upload made no asset');

$s->check_error_log;
done_testing();
