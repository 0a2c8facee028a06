#!/usr/bin/perl
# Notifications and @mentions (issue 21) in a real browser:
# t/browser/notifications.mjs (playwright-core driving Debian's chromium)
# with three people in three browser contexts.  Ann mentions Bob through
# the @-completion of her comment box; Bob's bell counts it live on
# another page, lists it, opens the asset at the comment and marks it
# read; "Mark all read"; Cat, not mentioned, sees nothing; Bob's reply
# mentioning Ann (the reply box completes too) reaches Ann's bell.  Screenshot:
# docs/screenshots/notifications.png.
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

my $ann = $s->register('ann@example.com', display_name => 'Ann Lee')->{access_token};
my $bob = $s->register('bob@example.com', display_name => 'Bob Builder');
my $cat = $s->register('cat@example.com', display_name => 'Cat Commenter');
my $out = $s->register('out@example.com', display_name => 'Out Sider');

# Ann's project, with Bob and Cat in it; Out is no member
my $P = $s->api(POST => '/api/projects', { name => 'Grading' }, token => $ann)->{json}{project}{id};
for my $who ($bob, $cat) {
    my $r = $s->api(POST => "/api/projects/$P/members", { user_id => $who->{user}{id}, role => 'commenter' },
                    token => $ann);
    die "member: $r->{status}\n" unless $r->{status} == 201;
}
$ann = $s->login('ann@example.com')->{access_token};
my $a = $s->create_asset($ann, project_id => $P, title => 'Grade review');
my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $ann);
die "promote: $r->{status}\n" unless $r->{status} == 201;

my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('notifications.mjs', BASE => $s->base_url, SHOTS => $shots, ASSET => $a->{id});
ok(-s "$shots/notifications.png", 'screenshot notifications.png');

# what the browser did, as the database has it
is($s->psql(qq{SELECT string_agg(kind || ':' || (read_at IS NOT NULL), ',' ORDER BY created_at)
               FROM notifications WHERE user_id = '$bob->{user}{id}'}),
   "mention:true,mention:true\n", 'Bob\'s two mentions, both read');
my $ann_id = $s->psql(q{SELECT id FROM users WHERE email = 'ann@example.com'}) =~ s/\s+//gr;
is($s->psql(qq{SELECT string_agg(kind || ':' || (read_at IS NOT NULL), ',') FROM notifications
               WHERE user_id = '$ann_id'}),
   "mention:false\n", 'Ann\'s: the reply that mentions her, one notification, unread');
is($s->psql(qq{SELECT count(*) FROM notifications WHERE user_id NOT IN ('$bob->{user}{id}', '$ann_id')}), "0\n",
   'nobody else was notified');

$s->check_error_log;
done_testing();
