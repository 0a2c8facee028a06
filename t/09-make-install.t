#!/usr/bin/perl
# make install / make uninstall for systems without the Debian packages
# (issue 18): DESTDIR and PREFIX honoured, no network (an `npm` that fails
# is first on PATH), an operator's edited configuration never replaced
# (the new one goes next to it as FILE.dist), and uninstall removing what
# install put there except the configuration.  (No stack: it runs make.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Mam::Stack;

my $root = $Mam::Stack::ROOT;
my $build = $Mam::Stack::BUILD;
my $dest = tempdir(CLEANUP => 1);
my $bin = tempdir(CLEANUP => 1);

# any use of npm (the network) fails the install
open my $fh, '>', "$bin/npm" or die;
print $fh "#!/bin/sh\necho 'npm must not run during make install' >&2\nexit 1\n";
close $fh;
chmod 0755, "$bin/npm";
local $ENV{PATH} = "$bin:$ENV{PATH}";

# the build under test (make test SANITIZE=1: the sanitizer build, with
# its own flags, so that install finds it up to date)
my $sanitize = $ENV{MAM_SANITIZE} ? 'SANITIZE=1' : '';

sub make {
    my ($target) = @_;
    my $out = `make -s -C '$root' $sanitize BUILDDIR='$build' DESTDIR='$dest' PREFIX=/usr $target 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = make('install');
is($rc, 0, 'make install DESTDIR=... PREFIX=/usr succeeds without npm') or diag($out);
for my $f ('usr/lib/nginx/modules/ngx_mam_module.so', 'usr/sbin/transcoderd', 'usr/bin/mam-migrate',
           'usr/sbin/mam-admin', 'usr/bin/mam-edge-key', 'usr/share/mam/schema/migrate',
           'usr/share/mam/schema/001_init.sql', 'usr/share/mam/html/index.html',
           'usr/share/mam/html/vendor/hls.min.js', 'usr/lib/systemd/system/mam-transcoderd.service',
           'etc/nginx/conf.d/mam.conf', 'etc/nginx/sites-available/mam', 'etc/mam/transcoderd.conf',
           'usr/sbin/webhookd', 'etc/mam/webhookd.conf', 'usr/lib/systemd/system/mam-webhookd.service',
           'usr/lib/sysusers.d/mam-webhookd.conf') {
    ok(-e "$dest/$f", "installs /$f");
}
like(Mam::Stack->slurp("$dest/usr/bin/mam-migrate"), qr{exec /usr/share/mam/schema/migrate},
     'mam-migrate runs the runner at PREFIX, not at DESTDIR');

# an operator's edit survives a second install
my $conf = "$dest/etc/nginx/conf.d/mam.conf";
open $fh, '>>', $conf or die;
print $fh "# the operator's edit\n";
close $fh;
($rc, $out) = make('install');
is($rc, 0, 'a second make install succeeds');
like(Mam::Stack->slurp($conf), qr/the operator's edit/, "... and keeps the operator's mam.conf");
ok(-e "$conf.dist", '... writing the new one next to it as mam.conf.dist');
like($out, qr/keeping .*mam\.conf/, '... and saying so');

($rc, $out) = make('uninstall');
is($rc, 0, 'make uninstall succeeds');
ok(!-e "$dest/usr/lib/nginx/modules/ngx_mam_module.so", '... the module is gone');
ok(!-e "$dest/usr/sbin/transcoderd", '... transcoderd is gone');
ok(!-e "$dest/usr/sbin/webhookd", '... webhookd is gone');
ok(!-e "$dest/usr/share/mam", '... the shared files are gone');
like(Mam::Stack->slurp($conf), qr/the operator's edit/, '... the configuration stays');
ok(-e "$dest/etc/mam/transcoderd.conf", "... transcoderd's too");

done_testing();
