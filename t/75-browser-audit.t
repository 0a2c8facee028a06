#!/usr/bin/perl
# The audit log's page (issue 19) in a real browser: t/browser/audit.mjs
# (playwright-core driving Debian's chromium, headless).  An admin sees
# every entry with its address, a project's manager only their project's
# entries and no address, someone who manages nothing neither the link
# nor the entries; a filter narrows the table and stays in the URL; "Load
# more" follows the cursor.  Screenshot: docs/screenshots/audit.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use Mam::Stack;
use Mam::Browser qw(browser_script);

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $s = Mam::Stack->new;
$s->start;

# Ada the admin; Mia manages "Harbour", Quinn "Quarry"; Vic only views
my $ada = $s->register('ada@example.com', display_name => 'Ada Admin')->{access_token};
my %t = map { $_->[0] => $s->register("$_->[0]\@example.com", display_name => $_->[1])->{access_token} }
        ([mia => 'Mia Manager'], [quinn => 'Quinn Manager'], [vic => 'Vic Viewer']);
my $P = $s->api(POST => '/api/projects', { name => 'Harbour' }, token => $t{mia})->{json}{project}{id};
my $Q = $s->api(POST => '/api/projects', { name => 'Quarry' }, token => $t{quinn})->{json}{project}{id};
my ($vic) = $s->psql(q{SELECT id FROM users WHERE email = 'vic@example.com'}) =~ /(\S+)/;
die "member\n" unless $s->api(POST => "/api/projects/$P/members", { user_id => $vic, role => 'viewer' },
                              token => $t{mia})->{status} == 201;
my $pa = $s->create_asset($t{mia}, project_id => $P, title => 'Pier');
$s->api(PATCH => "/api/assets/$pa->{id}", { title => 'Pier at dusk' }, token => $t{mia});
# more than a page of Harbour's entries (the page asks for 50)
my ($mia) = $s->psql(q{SELECT id FROM users WHERE email = 'mia@example.com'}) =~ /(\S+)/;
$s->psql("SELECT mam_audit('$mia', 'play_sign', 'version', NULL, '192.0.2.7',
                           jsonb_build_object('asset_id', '$pa->{id}'::uuid, 'ttl_sec', g))
          FROM generate_series(1, 60) g");

my $qa = $s->create_asset($t{quinn}, project_id => $Q, title => 'Quarry face');
$s->api(PATCH => "/api/assets/$qa->{id}", { title => 'Quarry face, north' }, token => $t{quinn});
my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('audit.mjs', BASE => $s->base_url, SHOTS => $shots, P => $P, Q => $Q,
               PA => $pa->{id}, QA => $qa->{id});
ok(-s "$shots/audit.png", 'screenshot audit.png');

$s->check_error_log;
done_testing();
