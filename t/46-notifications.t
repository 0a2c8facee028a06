#!/usr/bin/perl
# Notifications and @mentions (issue 21): who hears of what (a mention of
# a member, a reply to their thread, the approval of their asset's
# version, a new version of an asset they commented on; never the actor,
# never a non-member, once each), the list (keyset pages, the unread
# filter and count, scoped by membership when read), read and read-all
# (another's notification is 404), the members' completion, and the live
# delivery over the event stream to the recipient only.  The project
# roles' matrix of these routes is in t/38-project-authz.t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use lib "$FindBin::Bin/../bench/lib";
use Test::More;
use JSON::PP;
use Mam::Stack;
use Mam::Sql qw(sql_text session_sql);
use Mam::Sse qw(sse_open sse_wait);

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com', display_name => 'Admin');
my %u;
$u{ann} = $s->register('ann@example.com', display_name => 'Ann Lee');
$u{an} = $s->register('an@example.com', display_name => 'Ann');
$u{bob} = $s->register('bob@example.com', display_name => 'Bob');
$u{cat} = $s->register('cat@example.com', display_name => 'Cat');
$u{out} = $s->register('out@example.com', display_name => 'Out');
my %id = map { $_ => $u{$_}{user}{id} } keys %u;

# project P: Ann Lee manages it; Bob an editor, Cat and Ann commenters;
# Out is no member
my $P = $s->api(POST => '/api/projects', { name => 'Notified' }, token => $u{ann}{access_token})
          ->{json}{project}{id};
for (['bob', 'editor'], ['cat', 'commenter'], ['an', 'commenter']) {
    is($s->api(POST => "/api/projects/$P/members", { user_id => $id{$_->[0]}, role => $_->[1] },
               token => $u{ann}{access_token})->{status}, 201, "$_->[0] joins P as $_->[1]");
}
$u{$_} = $s->login("$_\@example.com") for qw(ann an bob cat out);
my %tok = map { $_ => $u{$_}{access_token} } keys %u;

my $asset = $s->create_asset($tok{bob}, project_id => $P, title => 'Trailer cut');
my $aid = $asset->{id};
my $v1 = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $tok{bob})->{json}{version};

sub post { my ($who, $body) = @_;
           my $r = $s->api(POST => "/api/assets/$aid/comments", $body, token => $tok{$who});
           is($r->{status}, 201, "$who comments: 201") or diag($r->{content});
           return $r->{json}{comment} }
sub notes { my ($who, $q) = @_;
            return $s->api(GET => '/api/notifications' . ($q ? "?$q" : ''), undef, token => $tok{$who}) }
sub kinds { my ($who) = @_; return [ map { $_->{kind} } @{ notes($who, 'limit=100')->{json}{items} } ] }
sub count { my ($who) = @_; return scalar @{ notes($who, 'limit=100')->{json}{items} } }

# --- mentions -------------------------------------------------------------------

# the live streams, open before anything happens: Bob's stream of every
# asset, Out's, and Cat's stream of the asset (Cat is no recipient)
my %sse = (bob => sse_open($s, '/api/preview/events', Authorization => "Bearer $tok{bob}"),
           out => sse_open($s, '/api/preview/events', Authorization => "Bearer $tok{out}"),
           cat => sse_open($s, "/api/preview/events?asset_id=$aid", Authorization => "Bearer $tok{cat}"));
ok(sse_wait($sse{$_}, qr/\r\n\r\n/), "the event stream of $_ opens") for sort keys %sse;

my $c1 = post(ann => { timestamp_sec => 1.5, frame => 36,
                       content => 'Hey @bob, and @Out and @nobody: see @Ann Lee, mail bob@Bob.com' });
my $r = notes('bob');
is($r->{status}, 200, 'GET /api/notifications: 200');
is($r->{json}{unread}, 1, 'Bob has one unread notification');
my $n = $r->{json}{items}[0];
is($n->{kind}, 'mention', '... a mention');
is($n->{actor}{display_name}, 'Ann Lee', '... by Ann Lee');
is($n->{asset}{title}, 'Trailer cut', '... of the asset, with its title');
is($n->{asset_id}, $aid, '... and its id');
is($n->{comment}{id}, $c1->{id}, '... naming the comment');
is($n->{comment}{timestamp_sec}, 1.5, '... with its time');
is($n->{comment}{frame}, 36, '... and frame');
like($n->{comment}{excerpt}, qr/^Hey \@bob/, '... and the start of its text');
is($n->{version}{number}, 1, '... and its version');
is($n->{read_at}, undef, '... unread');
is($r->{json}{next_cursor}, undef, 'one page');
is(count('out'), 0, 'a mention of a non-member notifies nobody');
is(count('ann'), 0, 'nobody is notified of their own mention of themselves');
is(count('an'), 0, '"@Ann Lee" mentions Ann Lee, not the member called Ann');

# live: Bob's stream has it; nobody else's
like(sse_wait($sse{bob}, qr/(event: notification\ndata: [^\n]*)/) // '', qr/"kind":"mention"/,
     'the notification reaches the recipient\'s open stream at once');
like($sse{bob}{buf}, qr/"id":"$n->{id}"/, '... the same notification');
ok(!sse_wait($sse{out}, qr/event: notification/, 1), 'not the stream of a non-member mentioned');
ok(sse_wait($sse{cat}, qr/event: comment/), 'Cat\'s stream of the asset has the comment');
ok($sse{cat}{buf} !~ /event: notification/, '... but not Bob\'s notification');

post(cat => { timestamp_sec => 2, content => '@Bob @bob @BOB, @Ann, hi' });
is_deeply(kinds('bob'), ['mention', 'mention'], 'three mentions of Bob in one comment: one notification');
is_deeply(kinds('an'), ['mention'], '"@Ann," mentions Ann');
is(count('ann'), 0, '... not Ann Lee');

# the bound: at most 20 people are notified of one comment
my @many;
for my $i (1 .. 25) {
    my $name = sprintf 'Member %02d', $i;
    my $uid = $s->psql("INSERT INTO users (email, display_name, password_hash, status) VALUES "
                       . "('m$i\@example.com', '$name', 'x', 'active') RETURNING id");
    $uid =~ s/\s+//g;
    $s->psql("INSERT INTO project_members (project_id, user_id, role) VALUES ('$P', '$uid', 'viewer')");
    push @many, $uid;
}
post(bob => { timestamp_sec => 3, content => join(' ', map { sprintf '@Member %02d', $_ } 1 .. 25) });
is($s->psql("SELECT count(*) FROM notifications WHERE kind = 'mention' AND user_id IN ("
            . join(',', map { "'$_'" } @many) . ')') =~ s/\s+//gr, 20,
   'a comment mentioning 25 members notifies the first 20');
is($s->psql("SELECT count(*) FROM notifications WHERE user_id = '$many[24]'") =~ s/\s+//gr, 0,
   '... the 25th is not');

# --- replies and edits ------------------------------------------------------------

post(cat => { parent_id => $c1->{id}, content => 'Agreed' });
is_deeply(kinds('ann'), ['reply'], 'a reply notifies the thread\'s author');
is(notes('ann')->{json}{items}[0]{comment}{parent_id}, $c1->{id}, '... naming the thread');
post(cat => { parent_id => $c1->{id}, content => 'And @Ann Lee, look' });
is_deeply(kinds('ann'), ['mention', 'reply'], 'a reply that mentions the author: one notification, the mention');
post(ann => { parent_id => $c1->{id}, content => 'Thanks' });
is(count('ann'), 2, 'a reply to one\'s own thread notifies nobody');

my $before = count('bob');
my $er = $s->api(PATCH => "/api/comments/$c1->{id}", { content => 'Hey @bob, and @cat too' }, token => $tok{ann});
is($er->{status}, 200, 'Ann edits her comment');
is(count('bob'), $before, 'an edit does not notify those mentioned before');
is_deeply(kinds('cat'), ['mention'], '... but whom it newly mentions');

# --- approvals --------------------------------------------------------------------

$before = count('bob');
is($s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'changes_requested' }, token => $tok{ann})->{status},
   200, 'the manager requests changes');
$r = notes('bob');
is($r->{json}{items}[0]{kind}, 'approval', 'the asset\'s owner hears of it');
is($r->{json}{items}[0]{status}, 'changes_requested', '... with the status');
is($r->{json}{items}[0]{version}{id}, $v1->{id}, '... of the version');
$s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'changes_requested' }, token => $tok{ann});
is(count('bob'), $before + 1, 'the same status again without a note is no news');
$s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'approved' }, token => $tok{bob});
is(count('bob'), $before + 1, 'the owner\'s own decision notifies nobody');

# --- a new version ------------------------------------------------------------------

my %had = map { $_ => count($_) } qw(ann an bob cat);
$s->api(PATCH => "/api/assets/$aid", { staging_key => $s->upload($tok{bob}, 'second') }, token => $tok{bob});
my $pr = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $tok{bob});
is($pr->{status}, 201, 'Bob promotes a second version');
is(kinds($_)->[0], 'version', "$_, who commented, hears of the new version") for qw(ann cat);
is(count('bob'), $had{bob}, 'not the one who made it, who commented too');
is(count('an'), $had{an}, 'nor a member who was mentioned but never commented');
is(notes('ann')->{json}{items}[0]{version}{number}, 2, '... version 2');
is(count('out'), 0, 'a non-member hears of nothing');

# --- the list: pages, filter, bad input -----------------------------------------

my $all = notes('ann', 'limit=100')->{json}{items};
my (@paged, $cursor, $pages);
do {
    $r = notes('ann', 'limit=1' . ($cursor ? "&cursor=$cursor" : ''));
    is($r->{status}, 200, 'a page of one: 200') unless $pages;
    push @paged, @{ $r->{json}{items} };
    $cursor = $r->{json}{next_cursor};
} while ($cursor && ++$pages < 20);
is_deeply([ map { $_->{id} } @paged ], [ map { $_->{id} } @$all ], 'pages of one give the whole list in order');
my @times = map { $_->{created_at} } @$all;
is_deeply(\@times, [ sort { $b cmp $a } @times ], 'newest first');

for my $bad ('limit=0', 'limit=101', 'limit=x', 'unread=2', 'cursor=abc', 'cursor=' . ('a' x 2000)) {
    $r = notes('ann', $bad);
    is($r->{status}, 400, "?$bad: 400");
    is($r->{json}{error}, 'invalid_request', '... invalid_request');
}
# another list's cursor is no cursor here
my $ac = $s->api(GET => '/api/assets?limit=1', undef, token => $tok{ann})->{json}{next_cursor};
is(notes('ann', "cursor=$ac")->{status}, 400, 'the asset list\'s cursor: 400') if $ac;
is($s->api(GET => '/api/notifications')->{status}, 401, 'without a token: 401');

# --- read, read-all ---------------------------------------------------------------------

my $first = $all->[0];
my $unread = notes('ann')->{json}{unread};
is($s->api(POST => "/api/notifications/$first->{id}/read", undef, token => $tok{bob})->{status}, 404,
   'another user\'s notification: 404');
is($s->api(POST => "/api/notifications/$first->{id}/read", undef, token => $admin->{access_token})->{status}, 404,
   '... for an admin too');
is($s->api(POST => '/api/notifications/not-a-uuid/read', undef, token => $tok{ann})->{status}, 400,
   'a malformed id: 400');
is($s->api(POST => '/api/notifications/00000000-0000-4000-8000-000000000000/read', undef,
           token => $tok{ann})->{status}, 404, 'an unknown id: 404');
$r = $s->api(POST => "/api/notifications/$first->{id}/read", undef, token => $tok{ann});
is($r->{status}, 200, 'its recipient marks it read: 200');
ok($r->{json}{notification}{read_at}, '... read_at is set');
is(notes('ann')->{json}{unread}, $unread - 1, '... and the unread count falls by one');
is($s->api(POST => "/api/notifications/$first->{id}/read", undef, token => $tok{ann})->{json}{notification}{read_at},
   $r->{json}{notification}{read_at}, 'marking it again changes nothing');
my $ur = notes('ann', 'unread=1&limit=100')->{json}{items};
is(scalar(@$ur), $unread - 1, '?unread=1 lists the unread ones');
ok(!(grep { $_->{id} eq $first->{id} } @$ur), '... not the one read');
is($s->api(GET => "/api/notifications/read-all", undef, token => $tok{ann})->{status}, 405,
   'GET read-all: 405');
$r = $s->api(POST => '/api/notifications/read-all', undef, token => $tok{ann});
is($r->{status}, 200, 'read-all: 200');
is($r->{json}{marked}, $unread - 1, '... saying how many it marked');
is(notes('ann')->{json}{unread}, 0, '... none unread now');
is(scalar @{ notes('ann', 'unread=1')->{json}{items} }, 0, '... and the unread filter lists none');
ok(notes('bob')->{json}{unread} > 0, 'another user\'s are untouched');

# --- scope at read time ---------------------------------------------------------------

my $cat_note = notes('cat')->{json}{items}[0]{id};
is($s->api(DELETE => "/api/projects/$P/members", { user_id => $id{cat} }, token => $tok{ann})->{status}, 204,
   'Cat leaves the project');
$u{cat} = $s->login('cat@example.com');
$tok{cat} = $u{cat}{access_token};
$r = notes('cat');
is(scalar @{ $r->{json}{items} }, 0, 'the notifications of an asset one no longer sees are not listed');
is($r->{json}{unread}, 0, '... nor counted');
is($s->api(POST => "/api/notifications/$cat_note/read", undef, token => $tok{cat})->{status}, 404,
   '... nor readable');

# --- plans ---------------------------------------------------------------------------
# a user with 20,000 notifications, a tenth unread: each page reads its index in
# order and stops at the page (the module's sessions plan once per statement)
$s->psql(qq{INSERT INTO notifications (user_id, kind, asset_id, actor_id, created_at, read_at)
            SELECT '$id{bob}', 'mention', '$aid', '$id{ann}', now() - i * interval '1 second',
                   CASE WHEN i % 10 > 0 THEN now() END
              FROM generate_series(1, 20000) i;
            ANALYZE notifications});
for (['NGX_MAM_SQL_NOTIFICATION_ALL', 'notifications_user_idx'],
     ['NGX_MAM_SQL_NOTIFICATION_UNREAD', 'notifications_unread_idx']) {
    my ($name, $index) = @$_;
    my $explain = $s->psql(session_sql() . "PREPARE q AS " . sql_text($name) . ";
                            EXPLAIN (COSTS OFF) EXECUTE q('$id{bob}', false, 25, 'infinity',
                                                          'ffffffff-ffff-ffff-ffff-ffffffffffff')");
    like($explain, qr/Index Scan using $index on notifications/, "$name: reads $index in order");
    unlike($explain, qr/Seq Scan on notifications|Bitmap Heap Scan on notifications/, '... no scan of the table') or diag($explain);
}
$r = notes('bob', 'unread=1&limit=100');
is($r->{json}{unread}, 1000, 'the unread count stops at 1000 (the bell says 999+)');
is(scalar @{ $r->{json}{items} }, 100, '... and the unread page is full');

# --- the members' completion ------------------------------------------------------------

sub members { my ($q, $who) = @_;
              return $s->api(GET => "/api/projects/$P/members" . (defined $q ? "?q=$q" : ''), undef,
                             token => $tok{$who // 'bob'}) }
$r = members('an');
is($r->{status}, 200, 'GET /api/projects/:id/members?q=an: 200');
is_deeply([ map { $_->{display_name} } @{ $r->{json}{items} } ], ['Ann', 'Ann Lee'], '... Ann and Ann Lee');
is_deeply([ sort keys %{ $r->{json}{items}[0] } ], ['display_name', 'id'], '... ids and names only');
is_deeply([ map { $_->{display_name} } @{ members('LEE')->{json}{items} } ], ['Ann Lee'],
          'a word of the name matches too, in any case');
is(scalar @{ members('cat')->{json}{items} }, 0, 'a former member is not offered');
is(scalar @{ members('out')->{json}{items} }, 0, 'nor a non-member');
is(scalar @{ members(undef)->{json}{items} }, 10, 'no q: the first 10');
is(members('an', 'out')->{status}, 404, 'a non-member asks: 404');
is(members('x' x 101)->{status}, 400, 'q of 101 characters: 400');
is($s->api(GET => '/api/projects/nope/members', undef, token => $tok{bob})->{status}, 400, 'a malformed id: 400');
is(members('an', 'an')->{status}, 200, 'any member may ask (a commenter)');

$s->check_error_log;
done_testing();
