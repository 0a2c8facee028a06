#!/usr/bin/perl
# npm's tus-js-client (the real client) uploads a 1 GiB generated file in
# chunks against the real stack; it is killed mid-way, a new client resumes
# from the server's offset, and the staged file's SHA-256 is the source's.
# Worker memory stays flat throughout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA;
use JSON::PP;
use Time::HiRes qw(sleep);
use Mam::Stack;

my $s = Mam::Stack->new(workers => 2, upload_max_size => '2g');
$s->start;
my $root = $s->data_dir . '/storage';
my $ROOT = "$FindBin::Bin/..";

$s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $T = $ed->{access_token};

my $size = 1024 ** 3;
my $chunk = 16 * 1024 * 1024;
my $file = $s->data_dir . '/big.bin';
system("head -c $size /dev/urandom > $file") == 0 or die "urandom";
my $want = Digest::SHA->new(256)->addfile($file, 'b')->hexdigest;

my $r = $s->api(POST => '/api/presign', { filename => 'big.mov', content_type => 'video/quicktime',
                                          size => $size, resumable => JSON::PP::true() },
                token => $T);
is($r->{status}, 200, 'presign of 1 GiB in resumable mode');
my $p = $r->{json};
my $url = $s->url($p->{upload_url});
my $partial = "$root/$p->{staging_key}.partial";

sub rss_kb { ($s->slurp("/proc/$_[0]/status") =~ /^VmRSS:\s+(\d+)/m)[0] }
my @workers = $s->nginx_workers;
my %before = map { $_ => rss_kb($_) } @workers;
my %peak = %before;
sub sample { for (@workers) { my $k = rss_kb($_); $peak{$_} = $k if $k > $peak{$_} } }

# a client, its events read as they come
sub client {
    my ($mode) = @_;
    my $out = $s->data_dir . "/tus-$mode.out";
    unlink $out;
    my $pid = $s->spawn('/bin/sh', '-c', "exec node $ROOT/t/tus-client.mjs $mode '$url' "
                        . "'$T' $file $chunk > $out 2>&1");
    return ($pid, $out);
}
sub events {
    my ($out) = @_;
    return map { eval { decode_json($_) } // { event => 'noise', message => $_ } }
           grep { length } split /\n/, ($s->slurp($out) // '');
}
sub head_offset {
    my $h = $s->http(HEAD => $p->{upload_url},
                     { headers => { 'Tus-Resumable' => '1.0.0', Authorization => "Bearer $T" } });
    return $h->{headers}{'upload-offset'};
}

# --- the first client, killed after about 40 % -----------------------------
my ($pid, $out) = client('create');
$s->wait_until(sub {
    sample();
    die "client ended early: " . $s->slurp($out) unless kill 0, $pid;
    (-s $partial // 0) >= 0.4 * $size;
}, 240, 'the first 40 %');
kill 'KILL', $pid;
waitpid $pid, 0;
my @ev = events($out);
ok((grep { $_->{event} eq 'chunk' } @ev) >= 10, 'the first client sent chunks ('
   . scalar(grep { $_->{event} eq 'chunk' } @ev) . ') before it was killed');
ok(!grep({ $_->{event} eq 'done' } @ev), '... and did not finish');

# whatever the last PATCH was doing when the client died has settled
$s->wait_until(sub { my $o = head_offset(); defined $o && $o == (-s $partial // -1) }, 30,
               'settled');
my $offset = head_offset();
cmp_ok($offset, '>=', 0.4 * $size, "the server kept $offset bytes");
is($offset % $chunk, 0, '... whole chunks only');
ok(!-e "$root/$p->{staging_key}", '... and nothing is at the staging key yet');

# --- a new client resumes from the server's offset --------------------------
($pid, $out) = client('resume');
$s->wait_until(sub { sample(); !kill 0, $pid or waitpid($pid, 1) > 0 }, 300, 'the resumed upload');
waitpid $pid, 0;
@ev = events($out);
my ($done) = grep { $_->{event} eq 'done' } @ev;
ok($done, 'the resumed upload finished') or diag($s->slurp($out));
my ($first) = grep { $_->{event} eq 'chunk' } @ev;
is($first->{offset}, $offset + $chunk, '... its first chunk continued at the server\'s offset');
my $chunks = grep { $_->{event} eq 'chunk' } @ev;
is($chunks, ($size - $offset) / $chunk, "... and it sent only the rest ($chunks chunks)");

my $got = Digest::SHA->new(256)->addfile("$root/$p->{staging_key}", 'b')->hexdigest;
is($got, $want, "the staged file's SHA-256 is the source's");
ok(!-e $partial, '... the partial is gone');
is($s->psql("SELECT status FROM uploads WHERE id = '$p->{upload_id}'"), "complete\n",
   '... and the upload is complete');

for (@workers) {
    my $growth = $peak{$_} - $before{$_};
    cmp_ok($growth, '<', 16 * 1024, "worker $_ RSS grew by $growth KiB (< 16 MiB) over 1 GiB");
}

$r = $s->api(POST => '/api/assets', { title => 'Big', staging_key => $p->{staging_key} },
             token => $T);
is($r->{status}, 201, 'the asset is created from it');

unlink $file, "$root/$p->{staging_key}";
$s->check_error_log;
done_testing();
