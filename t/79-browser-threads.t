#!/usr/bin/perl
# The review workflow (issue 21) in a real browser: t/browser/threads.mjs
# (playwright-core driving Debian's chromium) against a stack without
# transcoderd.  A range comment with a drawing (its end and a badge), a
# reply, its edit, resolve, the open/resolved/mine
# filters, a version's approval set by the asset's owner and seen live by
# a commenter, who is offered neither Resolve on another's thread nor the
# approval buttons.  Screenshot: docs/screenshots/threads.png.
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

my $ada = $s->register('ada@example.com', display_name => 'Ada Admin')->{access_token};
my $eve = $s->register('eve@example.com', display_name => 'Eve Editor')->{access_token};
my $col = $s->register('col@example.com', display_name => 'Col Commenter');
my $default = $s->psql('SELECT id FROM projects WHERE is_default');
chomp $default;
my $r = $s->api(PATCH => "/api/projects/$default/members", { user_id => $col->{user}{id}, role => 'commenter' },
                token => $ada);
die "member: $r->{status}\n" unless $r->{status} == 200;

my $a = $s->create_asset($eve, title => 'Grade review');
$r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $eve);
die "promote: $r->{status}\n" unless $r->{status} == 201;
my $v = $r->{json}{version};
$r = $s->api(POST => "/api/assets/$a->{id}/comments", { timestamp_sec => 1, content => 'Check the grade' }, token => $eve);
die "comment: $r->{status}\n" unless $r->{status} == 201;
my $t = $r->{json}{comment}{id};
$r = $s->api(POST => "/api/assets/$a->{id}/comments",
             { timestamp_sec => 2, duration_sec => 1.5, content => 'This span, circled',
               annotation => { shapes => [ { type => 'ellipse', points => [[0.2, 0.2], [0.6, 0.5]],
                                             color => '#ff0000', width => 0.004 } ] } }, token => $eve);
die "range comment: $r->{status}\n" unless $r->{status} == 201;

my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('threads.mjs', BASE => $s->base_url, SHOTS => $shots, ASSET => $a->{id});
ok(-s "$shots/threads.png", 'screenshot threads.png');

# what the browser did, as the database has it
is($s->psql(qq{SELECT content || '|' || (edited_at IS NOT NULL) FROM comments WHERE parent_id = '$t'}),
   "On it: the shadows are crushed below 5 %|true\n", 'the reply, edited');
is($s->psql(qq{SELECT resolved_at IS NOT NULL FROM comments WHERE id = '$t'}), "t\n", 'the thread resolved');
is($s->psql(qq{SELECT string_agg(status || ':' || coalesce(note, ''), ',' ORDER BY id) FROM version_approvals
               WHERE version_id = '$v->{id}'}),
   "approved:Good to go,changes_requested:\n", 'the approvals, in order, each with its own note');

$s->check_error_log;
done_testing();
