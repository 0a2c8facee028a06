#!/usr/bin/perl
# transcoderd's configuration: the example in conf/ is valid, mistakes
# stop it with a message naming the line, and the systemd unit points at
# the installed paths.  And it links only the libraries it calls.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Mam::Stack;
use POSIX ();

my $root = $Mam::Stack::ROOT;
my $td = "$root/build/transcoderd";
my $dir = tempdir(CLEANUP => 1);
open my $k, '>', "$dir/callback.key" or die;
print $k ('a' x 64), "\n";
close $k;

sub check {
    my ($text) = @_;
    open my $f, '>', "$dir/t.conf" or die;
    print $f $text;
    close $f;
    my $out = `$td -t -c $dir/t.conf 2>&1`;
    return ($? >> 8, $out);
}

my $example = do { local (@ARGV, $/) = "$root/conf/transcoderd.conf"; <> };
$example =~ s{/etc/mam/secrets/callback.key}{$dir/callback.key};
my ($rc, $out) = check($example);
is($rc, 0, 'conf/transcoderd.conf passes transcoderd -t') or diag($out);

my $base = "redis = unix:/tmp/x.sock\ncallback_url = http://127.0.0.1/api/preview/callback\n"
         . "callback_key_file = $dir/callback.key\nstorage_root = $dir\n";
for my $case (["jobs = 0\n", qr/t\.conf:5: bad value for jobs/, 'jobs 0'],
              ["jobs = many\n", qr/bad value for jobs/, 'jobs not a number'],
              ["encoder = quantum\n", qr/bad value for encoder/, 'an unknown encoder'],
              ["colour = blue\n", qr/unknown setting "colour"/, 'an unknown setting'],
              ["attempts\n", qr/expected key = value/, 'a line without ='],
              ["callback_key_file = $dir/missing.key\n", qr/callback_key_file:/, 'a missing key file'],
              ["s3_sse = DES\n", qr/bad value for s3_sse/, 'an unknown s3_sse'],
              ["s3_sse = AES256 my-key\n", qr/bad value for s3_sse/, 'a key id without aws:kms'],
              ["s3_timeout = 0\n", qr/bad value for s3_timeout/, 'an S3 deadline of 0 s'],
              ["s3_low_speed_limit = fast\n", qr/bad value for s3_low_speed_limit/, 'a low-speed limit not a number'],
              ["s3_low_speed_time = 7200\n", qr/bad value for s3_low_speed_time/, 'a low-speed time over an hour']) {
    ($rc, $out) = check($base . $case->[0]);
    isnt($rc, 0, "$case->[2] is refused");
    like($out, $case->[1], '... with a message naming it');
}
($rc, $out) = check($base . "s3_sse = aws:kms alias/mam-previews\n");
is($rc, 0, 's3_sse = aws:kms KEY_ID is taken') or diag($out);
($rc, $out) = check($base . "s3_timeout = 120\ns3_low_speed_limit = 4096\ns3_low_speed_time = 20\n");
is($rc, 0, 'S3 deadlines are taken') or diag($out);
($rc, $out) = check("redis = unix:/tmp/x.sock\n");
like($out, qr/are required/, 'missing required settings are named');
($rc, $out) = (system("$td -c $dir/nonexistent.conf >/dev/null 2>&1") >> 8, '');
isnt($rc, 0, 'a missing configuration file stops it');

my $unit = do { local (@ARGV, $/) = "$root/conf/mam-transcoderd.service"; <> };
like($unit, qr{^ExecStart=/usr/sbin/transcoderd -c /etc/mam/transcoderd.conf$}m,
     'the systemd unit runs the installed binary with the installed config');
like($unit, qr{^ExecReload=/bin/kill -HUP \$MAINPID$}m, '... reloads with SIGHUP');
like($unit, qr{^Type=notify$}m, '... is Type=notify (sd_notify READY=1, RELOADING=1)');
like($unit, qr{^User=mam-transcoderd$}m, '... runs as its own user, not www-data');
for my $line ('ProtectSystem=strict', 'PrivateTmp=yes', 'NoNewPrivileges=yes',
              'ReadWritePaths=/var/lib/mam/storage/previews /var/lib/mam/work',
              'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6') {
    like($unit, qr{^\Q$line\E$}m, "... $line");
}
like($unit, qr{^MemoryMax=\d+[KMG]$}m, '... MemoryMax');
my $verify = `systemd-analyze verify $root/conf/mam-transcoderd.service 2>&1`;
unlike($verify, qr/Unknown (key|section)|Failed to parse|Invalid/i,
       'systemd-analyze finds no unknown or invalid setting') or diag($verify);

# sd_notify: READY=1 on a notify socket once running (built with libsystemd)
SKIP: {
    skip 'transcoderd built without libsystemd', 1
        unless `ldd $td 2>&1` =~ /libsystemd/;
    require IO::Socket::UNIX;
    my $nsock = "$dir/notify.sock";
    my $ns = IO::Socket::UNIX->new(Type => IO::Socket::UNIX::SOCK_DGRAM(), Local => $nsock)
        or die "notify socket: $!";
    open my $nf, '>', "$dir/notify.conf" or die;
    print $nf $base;
    close $nf;
    my $pid = fork // die;
    if (!$pid) {
        $ENV{NOTIFY_SOCKET} = $nsock;
        open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null';
        exec $td, '-c', "$dir/notify.conf" or POSIX::_exit(127);
    }
    my $got = '';
    my $rin = ''; vec($rin, fileno($ns), 1) = 1;
    if (select(my $rout = $rin, undef, undef, 20)) { $ns->recv($got, 4096) }
    kill 'TERM', $pid; waitpid $pid, 0;
    like($got, qr/^READY=1$/m, 'transcoderd tells systemd READY=1 once it runs');
}

# libmam.a's JWT and password objects are never pulled into transcoderd, so
# neither is their library (directly or through another)
my $ldd = `ldd $td 2>&1`;
is($? >> 8, 0, 'ldd reads transcoderd') or diag($ldd);
unlike($ldd, qr/\blibjwt\b/, 'transcoderd does not link libjwt');
unlike($ldd, qr/\blibargon2\b/, '... nor libargon2');
done_testing();
