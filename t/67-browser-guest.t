#!/usr/bin/perl
# Review links (issue 22) in a real browser: t/browser/guest.mjs
# (playwright-core driving Debian's chromium) against a stack without
# transcoderd.  A manager shares an asset from its page (passphrase,
# approval), a guest without an account opens the link (a wrong
# passphrase refused, then the right one and a name), sees the client
# comment and not the internal one, draws an arrow and comments with it,
# approves the version; the manager sees the view and the guest on the
# project page and revokes the link, which the guest's page then says
# has ended.  Screenshots: docs/screenshots/share-dialog.png,
# guest-review.png, shares-list.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use JSON::PP;
use Mam::Stack;
use Mam::Browser qw(browser_script);

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $s = Mam::Stack->new;
$s->start;

my $mia = $s->register('mia@example.com', display_name => 'Mia Manager')->{access_token};
my $P = $s->api(POST => '/api/projects', { name => 'Client work' }, token => $mia)->{json}{project}{id};
my $a = $s->create_asset($mia, title => 'Client cut', project_id => $P);
my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $mia);
die "promote: $r->{status}\n" unless $r->{status} == 201;
my $v = $r->{json}{version};
# playable without transcoderd: signing works, the picture never comes
$s->psql(qq{UPDATE versions SET metadata = '{"duration_sec": 10, "frame_rate": 25}',
            preview_prefix = 'previews/$a->{id}/$v->{id}/' WHERE id = '$v->{id}'});
for my $c ([ 'Warmer, please', JSON::PP::false ], [ 'Budget: keep it to one pass', JSON::PP::true ]) {
    $r = $s->api(POST => "/api/assets/$a->{id}/comments",
                 { timestamp_sec => 1, content => $c->[0], internal => $c->[1] }, token => $mia);
    die "comment: $r->{status}\n" unless $r->{status} == 201;
}

my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('guest.mjs', BASE => $s->base_url, SHOTS => $shots, ASSET => $a->{id}, PROJECT => $P);
ok(-s "$shots/$_", "screenshot $_") for qw(share-dialog.png guest-review.png shares-list.png);

# what the browser did, as the database has it
is($s->psql(q{SELECT g.name || '|' || (c.annotation->'shapes'->0->>'type') || '|' || c.internal
                FROM comments c JOIN share_guests g ON g.id = c.guest_id}),
   "Gina Guest|arrow|false\n", 'the guest\'s comment with its arrow, not internal');
is($s->psql(qq{SELECT approval || '|' || (approval_guest IS NOT NULL) FROM versions WHERE id = '$v->{id}'}),
   "approved|true\n", 'the version approved by the guest');
is($s->psql(q{SELECT (passphrase_hash LIKE '$argon2id$%') || '|' || allow_approval || '|' || (revoked_at IS NOT NULL)
                FROM shares}),
   "true|true|true\n", 'the link: a passphrase hash, approval allowed, revoked');
is($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'share_view'}) > 0 ? 1 : 0, 1, 'its views audited');

$s->check_error_log;
done_testing();
