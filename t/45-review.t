#!/usr/bin/perl
# The review workflow (issue 21): threads (replies one level deep, the
# list's thread order and pages), edits by the author, resolve and reopen,
# the list's status and mine filters, range comments, drawings
# (annotation: checked strictly, answered in the server's form), a
# version's approval with its history, the asset's status and the list's
# approval filter, the events and the audit rows.  Who may do what per
# project role is in t/38-project-authz.t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use JSON::PP;
use Mam::Stack;
use Mam::Sse qw(sse_open sse_wait);

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com', display_name => 'Ed');
my $eve = $s->register('eve@example.com', display_name => 'Eve');
my $col = $s->register('col@example.com', display_name => 'Col');
my $out = $s->register('out@example.com', display_name => 'Out');
my ($A, $E, $EVE, $OUT) = map { $_->{access_token} } $admin, $ed, $eve, $out;

# everyone is in the default project (as an editor); Col is made a commenter
my $default = $s->psql('SELECT id FROM projects WHERE is_default');
chomp $default;
is($s->api(PATCH => "/api/projects/$default/members", { user_id => $col->{user}{id}, role => 'commenter' },
           token => $A)->{status}, 200, 'Col becomes a commenter of the default project');
$col = $s->login('col@example.com');
my $COL = $col->{access_token};

my $asset = $s->create_asset($E, title => 'Review me');
my $id = $asset->{id};
my $v1 = $s->api(POST => '/api/promote', { asset_id => $id }, token => $E)->{json}{version};
$s->psql(qq{UPDATE versions SET metadata = '{"duration_sec": 10, "frame_rate": 25}' WHERE id = '$v1->{id}'});

sub post { $s->api(POST => "/api/assets/$_[0]/comments", $_[1], token => $_[2] // $E) }
sub list { my ($q, $t) = @_; $s->api(GET => "/api/assets/$id/comments" . ($q ? "?$q" : ''), undef, token => $t // $E) }
sub contents { [ map { $_->{content} } @{ $_[0]{json}{items} // [] } ] }

# --- a range with a drawing ---------------------------------------------------
my $drawing = { shapes => [
    { type => 'arrow', points => [[0.1, 0.2], [0.123456, 1]], color => '#FF0000', width => 0.005 },
    { type => 'rectangle', points => [[0, 0], [0.5, 0.25]], color => '#00ff00', width => 0.01 },
    { type => 'ellipse', points => [[0.2, 0.2], [0.4, 0.3]], color => '#0000ff', width => 0.002 },
    { type => 'line', points => [[1, 1], [0, 0]], color => '#abcdef', width => 0.1 },
    { width => 0.003, color => '#123456', points => [[0.5, 0.5], [0.51, 0.52], [0.53, 0.55]], type => 'freehand' },
] };
my $r = post($id, { timestamp_sec => 2, frame => 50, duration_sec => 1.5, duration_frames => 37,
                    content => 'Thread A: this span', annotation => $drawing });
is($r->{status}, 201, 'a range comment with a drawing: 201') or diag($r->{content});
my $ta = $r->{json}{comment};
is($ta->{duration_sec}, 1.5, 'duration_sec');
is($ta->{duration_frames}, 37, 'duration_frames');
is($ta->{parent_id}, undef, 'a thread has no parent_id');
is($ta->{reply_count}, 0, 'reply_count 0');
is($ta->{resolved_by}, undef, 'not resolved');
is($ta->{edited_at}, undef, 'not edited');
is_deeply($ta->{annotation}, { shapes => [
    { type => 'arrow', points => [[0.1, 0.2], [0.1235, 1]], color => '#ff0000', width => 0.005 },
    { type => 'rectangle', points => [[0, 0], [0.5, 0.25]], color => '#00ff00', width => 0.01 },
    { type => 'ellipse', points => [[0.2, 0.2], [0.4, 0.3]], color => '#0000ff', width => 0.002 },
    { type => 'line', points => [[1, 1], [0, 0]], color => '#abcdef', width => 0.1 },
    { type => 'freehand', points => [[0.5, 0.5], [0.51, 0.52], [0.53, 0.55]], color => '#123456', width => 0.003 },
] }, 'the drawing comes back in the server\'s form (4 decimals, colours in lower case)');
like($r->{content}, qr/\[\[0\.1,0\.2\],\[0\.1235,1\.0\]\]/, '... as the server wrote it, not the client\'s bytes');
is($s->psql(qq{SELECT annotation->'shapes'->0->>'color' FROM comments WHERE id = '$ta->{id}'}), "#ff0000\n",
   'stored as jsonb in that form');

is(post($id, { timestamp_sec => 9, duration_sec => 1, content => 'to the end' })->{status}, 201,
   'a range that ends at the duration is fine');

sub bad {
    my ($body, $re, $what) = @_;
    my $r = post($id, $body);
    is($r->{status}, 400, "$what: 400") or diag($r->{content});
    like($r->{json}{message} // '', $re, "... $what: the message says why") or diag($r->{content});
}
bad({ timestamp_sec => 9, duration_sec => 1.5, content => 'x' }, qr/^duration_sec: the range must end by the version's duration \(10/,
    'a range past the duration');
bad({ timestamp_sec => 1, duration_sec => -1, content => 'x' }, qr/^duration_sec: must be a number of seconds/, 'a negative duration');
bad({ timestamp_sec => 1, duration_sec => '1', content => 'x' }, qr/^duration_sec: /, 'a duration as a string');
bad({ timestamp_sec => 1, duration_frames => 10, content => 'x' }, qr/^duration_frames: needs duration_sec/,
    'frames without seconds');
bad({ timestamp_sec => 1, duration_sec => 1, duration_frames => 1.5, content => 'x' }, qr/^duration_frames: must be an integer/,
    'frames as a real');
bad({ timestamp_sec => 1, duration_sec => 1, duration_frames => 40, content => 'x' },
    qr/^duration_frames: must be within one frame of duration_sec at the version's frame rate \(25/,
    'frames that do not fit the seconds');

# --- bad drawings: 400, nothing stored ---------------------------------------
my $before = $s->psql('SELECT count(*) FROM comments');
sub shape { return { type => 'line', points => [[0, 0], [1, 1]], color => '#000000', width => 0.01, @_ } }
my @bad_drawings = (
    [ 'an unknown shape', { shapes => [ shape(type => 'star') ] }, qr/^annotation\.shapes\[0\]\.type: must be arrow, line, rectangle, ellipse or freehand/ ],
    [ 'an unknown key', { shapes => [ shape(fill => '#ffffff') ] }, qr/^annotation\.shapes\[0\]: unknown key "fill"/ ],
    [ 'an unknown top-level key', { shapes => [ shape() ], version => 2 }, qr/^annotation: unknown key/ ],
    [ 'a coordinate above 1', { shapes => [ shape(points => [[0, 0], [1.01, 0.5]]) ] }, qr/^annotation\.shapes\[0\]\.points\[1\]: must be \[x, y\], two numbers from 0 to 1/ ],
    [ 'a negative coordinate', { shapes => [ shape(points => [[-0.01, 0], [1, 1]]) ] }, qr/^annotation\.shapes\[0\]\.points\[0\]/ ],
    [ 'a huge coordinate', { shapes => [ shape(points => [[1e300, 0], [1, 1]]) ] }, qr/^annotation\.shapes\[0\]\.points\[0\]/ ],
    [ 'a coordinate as a string', { shapes => [ shape(points => [['0.5', 0], [1, 1]]) ] }, qr/^annotation\.shapes\[0\]\.points\[0\]/ ],
    [ 'three points for a line', { shapes => [ shape(points => [[0, 0], [1, 1], [0.5, 0.5]]) ] }, qr/^annotation\.shapes\[0\]\.points: line takes an array of 2 points/ ],
    [ 'a point of three numbers', { shapes => [ shape(points => [[0, 0, 0], [1, 1]]) ] }, qr/^annotation\.shapes\[0\]\.points\[0\]/ ],
    [ 'a colour by name', { shapes => [ shape(color => 'red') ] }, qr/^annotation\.shapes\[0\]\.color: must be "#rrggbb"/ ],
    [ 'a width of 0', { shapes => [ shape(width => 0) ] }, qr/^annotation\.shapes\[0\]\.width: must be a number from 0\.001 to 0\.1/ ],
    [ 'a huge width', { shapes => [ shape(width => 1e300) ] }, qr/^annotation\.shapes\[0\]\.width/ ],
    [ 'no shapes', { shapes => [] }, qr/^annotation\.shapes: must be an array of 1\.\.64 shapes/ ],
    [ '65 shapes', { shapes => [ map { shape() } 1 .. 65 ] }, qr/^annotation\.shapes: must be an array of 1\.\.64 shapes/ ],
    [ 'a stroke of 1001 points', { shapes => [ shape(type => 'freehand', points => [ map { [0.5, 0.5] } 1 .. 1001 ]) ] },
      qr/^annotation\.shapes\[0\]\.points: freehand takes an array of 1\.\.1000 points/ ],
    [ '2400 points in all', { shapes => [ map { shape(type => 'freehand', points => [ map { [0.5, 0.5] } 1 .. 800 ]) } 1 .. 3 ] },
      qr/^annotation: at most 2000 points in all its shapes/ ],
    [ 'a drawing that is an array', [ shape() ], qr/^annotation: must be an object/ ],
    [ 'a drawing that is a string', 'arrow', qr/^annotation: must be an object/ ],
);
for my $b (@bad_drawings) {
    bad({ timestamp_sec => 1, content => 'drawn', annotation => $b->[1] }, $b->[2], $b->[0]);
}
# 2000 points (the most) whose canonical text is over 32 KiB: the byte limit
my @long = map { [ $_ / 10000, (9999 - $_) / 10000 ] } 1 .. 980;
bad({ timestamp_sec => 1, content => 'drawn',
      annotation => { shapes => [ shape(type => 'freehand', points => \@long),
                                  shape(type => 'freehand', points => \@long),
                                  map { shape(type => 'freehand', points => [[0, 0]]) } 1 .. 40 ] } },
    qr/^annotation: at most 32768 bytes once written out/, 'a drawing over 32 KiB once written out');
# not JSON: NaN, Infinity and overflowing numbers are refused by the parser
for my $lit ('NaN', 'Infinity', '-Infinity', '1e400') {
    my $body = qq({"timestamp_sec": 1, "content": "x", "annotation": {"shapes": [{"type": "line", )
             . qq("points": [[0, 0], [$lit, 1]], "color": "#000000", "width": 0.01}]}});
    my $r = $s->api(POST => "/api/assets/$id/comments", $body, token => $E);
    is($r->{status}, 400, "a coordinate of $lit: 400");
    is($r->{json}{error}, 'invalid_request', '... invalid_request');
}
is($s->psql('SELECT count(*) FROM comments'), $before, 'no refused comment was stored');

# --- threads --------------------------------------------------------------------
my $tb = post($id, { timestamp_sec => 5, content => 'Thread B' })->{json}{comment};
my $tz = post($id, { timestamp_sec => 0.5, content => 'Thread Z (first by time)' }, $COL)->{json}{comment};
$r = post($id, { parent_id => $ta->{id}, content => '  reply one ' }, $EVE);
is($r->{status}, 201, 'a reply: 201') or diag($r->{content});
my $r1 = $r->{json}{comment};
is($r1->{parent_id}, $ta->{id}, '... with its parent_id');
is($r1->{timestamp_sec}, 2, '... its thread\'s time');
is($r1->{frame}, 50, '... and frame');
is($r1->{version_id}, $v1->{id}, '... and version');
is($r1->{content}, 'reply one', '... content trimmed');
my $r2 = post($id, { parent_id => $ta->{id}, content => 'reply two' }, $COL)->{json}{comment};

$r = post($id, { parent_id => $r1->{id}, content => 'a reply to a reply' });
is($r->{status}, 400, 'a reply to a reply: 400');
like($r->{json}{message}, qr/^parent_id: a reply cannot be replied to/, '... threads are one level deep');
$r = post($id, { parent_id => $ta->{id}, content => 'with a time', timestamp_sec => 3 });
is($r->{status}, 400, 'a reply with its own timestamp_sec: 400');
like($r->{json}{message}, qr/^timestamp_sec: a reply takes content only/, '... saying so');
$r = post($id, { parent_id => $ta->{id}, content => 'drawn', annotation => { shapes => [ shape() ] } });
like($r->{json}{message} // '', qr/^annotation: a reply takes content only/, 'a reply with a drawing: 400');
$r = post($id, { parent_id => 'nope', content => 'x' });
like($r->{json}{message} // '', qr/^parent_id: must be a UUID/, 'a parent_id that is no UUID: 400');
my $other = $s->create_asset($E, title => 'Other');
my $oc = post($other->{id}, { timestamp_sec => 0, content => 'elsewhere' })->{json}{comment};
$r = post($id, { parent_id => $oc->{id}, content => 'across assets' });
is($r->{status}, 400, 'a parent on another asset: 400');
like($r->{json}{message}, qr/^parent_id: no such comment on this asset/, '... saying so');

$r = list();
is_deeply(contents($r), ['Thread Z (first by time)', 'Thread A: this span', 'reply one', 'reply two', 'Thread B',
                         'to the end'],
          'the list: threads by time, each followed by its replies in order');
is($r->{json}{items}[1]{reply_count}, 2, 'a thread\'s reply_count');

# pages count threads; a thread's replies are on its page
my @pages;
my $cursor;
do {
    my $p = list('limit=2' . ($cursor ? "&cursor=$cursor" : ''));
    is($p->{status}, 200, 'a page of 2 threads: 200');
    push @pages, contents($p);
    $cursor = $p->{json}{next_cursor};
} while ($cursor && @pages < 5);
is_deeply(\@pages, [ ['Thread Z (first by time)', 'Thread A: this span', 'reply one', 'reply two'],
                     ['Thread B', 'to the end'] ], 'limit counts threads; replies stay with their thread');

# --- edit: the author alone ----------------------------------------------------------
$r = $s->api(PATCH => "/api/comments/$tb->{id}", { content => "  Thread B, edited\n" }, token => $E);
is($r->{status}, 200, 'the author edits: 200');
is($r->{json}{comment}{content}, 'Thread B, edited', '... the new content, trimmed');
like($r->{json}{comment}{edited_at} // '', qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/, '... edited_at set');
is($s->api(PATCH => "/api/comments/$tb->{id}", { content => 'hijack' }, token => $EVE)->{status}, 403,
   'another editor: 403');
is($s->api(PATCH => "/api/comments/$tb->{id}", { content => 'hijack' }, token => $A)->{status}, 403,
   'an admin: 403 (a comment says what its author wrote)');
is($s->api(PATCH => "/api/comments/$r1->{id}", { content => 'reply one, edited' }, token => $EVE)->{status}, 200,
   'the author of a reply edits it');
$r = $s->api(PATCH => "/api/comments/$tb->{id}", { content => '   ' }, token => $E);
is($r->{status}, 400, 'blank content: 400');
is($s->api(PATCH => "/api/comments/$tb->{id}", { }, token => $E)->{status}, 400, 'no content: 400');
is($s->api(PATCH => '/api/comments/00000000-0000-0000-0000-000000000000', { content => 'x' }, token => $E)->{status},
   404, 'an unknown comment: 404');

# --- resolve and reopen ---------------------------------------------------------------
$r = $s->api(POST => "/api/comments/$ta->{id}/resolve", undef, token => $E);
is($r->{status}, 200, 'the author resolves the thread: 200') or diag($r->{content});
is_deeply($r->{json}{comment}{resolved_by}, { id => $ed->{user}{id}, display_name => 'Ed' }, '... resolved_by');
ok($r->{json}{comment}{resolved_at}, '... resolved_at');
my $at = $r->{json}{comment}{resolved_at};
$r = $s->api(POST => "/api/comments/$ta->{id}/resolve", undef, token => $EVE);
is($r->{status}, 200, 'resolving it again: 200');
is($r->{json}{comment}{resolved_at}, $at, '... nothing changes');
is($s->api(POST => "/api/comments/$r1->{id}/resolve", undef, token => $E)->{status}, 400,
   'a reply is not resolved on its own: 400');
is($s->api(POST => "/api/comments/$tb->{id}/resolve", undef, token => $COL)->{status}, 403,
   'a commenter who did not write it: 403');
is($s->api(POST => "/api/comments/$tz->{id}/resolve", undef, token => $COL)->{status}, 200,
   'a commenter resolves their own thread');
is($s->api(POST => "/api/comments/$tz->{id}/reopen", undef, token => $EVE)->{status}, 200,
   'an editor reopens it');
$r = list('status=resolved');
is_deeply(contents($r), ['Thread A: this span', 'reply one, edited', 'reply two'], 'status=resolved: resolved threads with their replies');
$r = list('status=open');
is_deeply(contents($r), ['Thread Z (first by time)', 'Thread B, edited', 'to the end'], 'status=open');
is_deeply(contents(list('mine=1', $COL)), ['Thread Z (first by time)', 'Thread A: this span', 'reply one, edited', 'reply two'],
          'mine=1: threads the caller started or replied to');
is_deeply(contents(list('mine=1&status=open', $COL)), ['Thread Z (first by time)'], 'mine=1&status=open');
is_deeply(contents(list('mine=1', $A)), [], 'mine=1 of someone who wrote nothing: empty');
is(scalar @{ contents(list('mine=0')) }, 6, 'mine=0: all');
for my $q ('status=closed', 'status=', 'mine=yes', 'mine=2') {
    my $b = list($q);
    is($b->{status}, 400, "$q: 400");
}
$r = $s->api(POST => "/api/comments/$ta->{id}/reopen", undef, token => $A);
is($r->{status}, 200, 'an admin reopens: 200');
is($r->{json}{comment}{resolved_by}, undef, '... resolved_by null');
is($r->{json}{comment}{resolved_at}, undef, '... resolved_at null');
$s->api(POST => "/api/comments/$tb->{id}/resolve", undef, token => $EVE);
$s->psql(qq{UPDATE users SET display_name = 'Eve R.' WHERE id = '$eve->{user}{id}'});
my ($b_item) = grep { $_->{id} eq $tb->{id} } @{ list()->{json}{items} };
is($b_item->{resolved_by}{display_name}, 'Eve R.', 'a rename reaches resolved_by in the items');

# a project Eve is no member of: 404 for all of it
my $P = $s->api(POST => '/api/projects', { name => 'Private' }, token => $E)->{json}{project}{id};
my $pa = $s->create_asset($E, project_id => $P, title => 'Private asset');
my $pv = $s->api(POST => '/api/promote', { asset_id => $pa->{id} }, token => $E)->{json}{version};
my $pc = post($pa->{id}, { timestamp_sec => 0, content => 'private' })->{json}{comment};
is($s->api(PATCH => "/api/comments/$pc->{id}", { content => 'x' }, token => $EVE)->{status}, 404, 'edit as a non-member: 404');
is($s->api(POST => "/api/comments/$pc->{id}/resolve", undef, token => $EVE)->{status}, 404, 'resolve as a non-member: 404');
is(post($pa->{id}, { parent_id => $pc->{id}, content => 'x' }, $EVE)->{status}, 404, 'reply as a non-member: 404');
is($s->api(PUT => "/api/versions/$pv->{id}/approval", { status => 'approved' }, token => $EVE)->{status}, 404,
   'approval as a non-member: 404');
is($s->api(GET => "/api/versions/$pv->{id}/approvals", undef, token => $EVE)->{status}, 404,
   'approval history as a non-member: 404');

# an asset's owner who is (now) a commenter of its project decides on its
# versions and resolves its threads; another commenter does neither
is($s->api(POST => "/api/projects/$P/members", { user_id => $col->{user}{id}, role => 'editor' }, token => $E)->{status},
   201, 'Col joins the private project as an editor');
$col = $s->login('col@example.com');
my $ca = $s->create_asset($col->{access_token}, project_id => $P, title => 'Col\'s');
my $cv = $s->api(POST => '/api/promote', { asset_id => $ca->{id} }, token => $col->{access_token})->{json}{version};
my $ec = post($ca->{id}, { timestamp_sec => 0, content => 'by Ed' })->{json}{comment};
is($s->api(PATCH => "/api/projects/$P/members", { user_id => $col->{user}{id}, role => 'commenter' }, token => $E)->{status},
   200, '... and is made a commenter');
$col = $s->login('col@example.com');
is($s->api(PUT => "/api/versions/$cv->{id}/approval", { status => 'in_review' }, token => $col->{access_token})->{status},
   200, 'the asset\'s owner, a commenter, sets its version\'s approval');
is($s->api(POST => "/api/comments/$ec->{id}/resolve", undef, token => $col->{access_token})->{status}, 200,
   '... and resolves a thread on it that someone else wrote');
is($s->api(PUT => "/api/versions/$pv->{id}/approval", { status => 'approved' }, token => $col->{access_token})->{status},
   403, 'but not on another\'s asset');
is($s->api(POST => "/api/comments/$pc->{id}/resolve", undef, token => $col->{access_token})->{status}, 403,
   '... nor its threads');
$COL = $s->login('col@example.com')->{access_token};

# a thread holds at most 100 replies
$s->psql(qq{INSERT INTO comments (asset_id, version_id, user_id, timestamp_sec, content, parent_id)
            SELECT asset_id, version_id, user_id, timestamp_sec, 'r' || g, id
              FROM comments, generate_series(1, 99) g WHERE id = '$pc->{id}'});
is(post($pa->{id}, { parent_id => $pc->{id}, content => 'the 100th' })->{status}, 201, 'the 100th reply: 201');
$r = post($pa->{id}, { parent_id => $pc->{id}, content => 'the 101st' });
is($r->{status}, 409, 'the 101st: 409');
like($r->{json}{message} // '', qr/at most 100 replies/, '... saying so');
my $full = $s->api(GET => "/api/assets/$pa->{id}/comments?limit=1", undef, token => $E)->{json};
is(scalar @{ $full->{items} }, 101, 'a page of one thread holds it and its 100 replies');
is($full->{items}[0]{reply_count}, 100, '... reply_count 100');

# --- approvals ---------------------------------------------------------------------------
is($s->api(GET => "/api/assets/$id", undef, token => $E)->{json}{asset}{approval}{status}, 'none',
   'an asset before any decision: approval none');
$r = $s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'in_review' }, token => $E);
is($r->{status}, 200, 'the owner puts v1 in review: 200') or diag($r->{content});
is($r->{json}{version}{approval}{status}, 'in_review', '... the version\'s approval');
is($r->{json}{version}{approval}{note}, undef, '... no note');
$r = $s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'changes_requested', note => ' Fix the grade ' },
             token => $EVE);
is($r->{status}, 200, 'an editor requests changes');
is_deeply([ @{ $r->{json}{version}{approval} }{qw(status note)} ], ['changes_requested', 'Fix the grade'], '... with the note');
is($r->{json}{version}{approval}{user}{id}, $eve->{user}{id}, '... and who');
is($s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'approved' }, token => $COL)->{status}, 403,
   'a commenter who does not own the asset: 403');
for my $bad ({ status => 'done' }, { status => 'APPROVED' }, {}, { status => 1 }, { status => 'approved', note => 'x' x 2001 },
             { status => 'approved', note => 5 }) {
    my $b = $s->api(PUT => "/api/versions/$v1->{id}/approval", $bad, token => $E);
    is($b->{status}, 400, 'a bad approval body: 400 (' . JSON::PP->new->canonical->encode($bad) . ')');
}
is($s->api(PUT => '/api/versions/nope/approval', { status => 'approved' }, token => $E)->{status}, 400,
   'a version id that is no UUID: 400');
is($s->api(PUT => '/api/versions/00000000-0000-0000-0000-000000000000/approval', { status => 'approved' },
           token => $E)->{status}, 404, 'an unknown version: 404');
$r = $s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'approved', note => 'Lovely' }, token => $A);
is($r->{status}, 200, 'an admin approves');

my $g = $s->api(GET => "/api/assets/$id", undef, token => $COL)->{json};
is($g->{asset}{approval}{status}, 'approved', 'the asset\'s approval is its latest version\'s');
is($g->{asset}{latest_version}{approval}{status}, 'approved', '... as in latest_version');
is($g->{versions}[0]{approval}{note}, 'Lovely', 'the version\'s approval in the versions list');

$r = $s->api(GET => "/api/versions/$v1->{id}/approvals", undef, token => $COL);
is($r->{status}, 200, 'the history: 200 for a commenter');
is_deeply([ map { $_->{status} } @{ $r->{json}{items} } ], [qw(approved changes_requested in_review)],
          'newest first');
is_deeply([ sort keys %{ $r->{json}{items}[1] } ], [qw(created_at guest id note status user version_id)],
          'an entry: {id, version_id, status, note, user, guest (issue 22), created_at}');
is($r->{json}{items}[1]{user}{display_name}, 'Eve R.', '... with the user');
is($r->{json}{next_cursor}, undef, '... one page: next_cursor null');

# the history a keyset page at a time: 250 more decisions, older than the
# three above, two by two at the same instant (the id breaks the tie)
$s->psql(qq{INSERT INTO version_approvals (version_id, user_id, status, note, created_at)
            SELECT '$v1->{id}', '$eve->{user}{id}', 'in_review', 'bulk ' || g,
                   now() - interval '1 day' + (g / 2) * interval '1 ms'
              FROM generate_series(1, 250) g});
my (@seen, $pages);
$cursor = undef;
do {
    my $q = 'limit=60' . (defined $cursor ? "&cursor=$cursor" : '');
    my $p = $s->api(GET => "/api/versions/$v1->{id}/approvals?$q", undef, token => $COL);
    die "approvals page: $p->{status} $p->{content}\n" unless $p->{status} == 200;
    push @seen, @{ $p->{json}{items} };
    $cursor = $p->{json}{next_cursor};
    $pages++;
} while (defined $cursor && $pages < 10);
is($pages, 5, 'the history of 253 decisions in pages of 60: 5 pages, the last without next_cursor');
is(scalar @seen, 253, '... every decision once') or diag(scalar @seen);
my %once = map { $_->{id} => 1 } @seen;
is(scalar keys %once, 253, '... none twice');
is_deeply([ map { $_->{status} } @seen[0 .. 2] ], [qw(approved changes_requested in_review)], '... newest first');
is_deeply([ map { $_->{note} } @seen[3 .. 5] ], ['bulk 250', 'bulk 249', 'bulk 248'],
          '... then the older ones, the same instant ordered by id, newest first');
is($seen[-1]{note}, 'bulk 1', '... down to the oldest');
$r = $s->api(GET => "/api/versions/$v1->{id}/approvals", undef, token => $COL);
is(scalar @{ $r->{json}{items} }, 100, 'without limit: the newest 100 (the one page there was before paging)');
ok($r->{json}{next_cursor}, '... and the cursor of the rest');
my $next = $r->{json}{next_cursor};
$r = $s->api(GET => "/api/versions/$v1->{id}/approvals?limit=100&cursor=$next", undef, token => $COL);
is($r->{json}{items}[0]{note}, 'bulk 153', '... which goes on after the 100th (bulk 154)');
for my $bad ('limit=0', 'limit=101', 'limit=x', 'cursor=nope', "cursor=${next}x", 'cursor=' . ('a' x 2000)) {
    is($s->api(GET => "/api/versions/$v1->{id}/approvals?$bad", undef, token => $COL)->{status}, 400,
       "approvals?$bad: 400");
}
my $cpage = $s->api(GET => "/api/assets/$id/comments?limit=1", undef, token => $COL)->{json}{next_cursor};
ok($cpage, 'a comment list cursor, to misuse');
like($s->api(GET => "/api/versions/$v1->{id}/approvals?cursor=$cpage", undef, token => $COL)->{json}{message} // '',
     qr/^cursor: not a cursor this server issued/, 'a comment list\'s cursor is refused: 400');
$s->api(PUT => "/api/versions/$pv->{id}/approval", { status => $_ }, token => $E) for qw(in_review approved);
my $pnext = $s->api(GET => "/api/versions/$pv->{id}/approvals?limit=1", undef, token => $E)->{json}{next_cursor};
ok($pnext, 'a page of a private version\'s history has a cursor');
is($s->api(GET => "/api/versions/$pv->{id}/approvals?limit=1&cursor=$pnext", undef, token => $EVE)->{status}, 404,
   '... which serves a non-member nothing: 404');
is($s->api(GET => "/api/versions/$v1->{id}/approvals?cursor=$pnext", undef, token => $COL)->{status}, 400,
   '... nor another version: 400');
$s->psql(qq{DELETE FROM version_approvals WHERE note LIKE 'bulk %'});

# the list's filter
sub ids { my ($q) = @_; my $x = $s->api(GET => "/api/assets?$q", undef, token => $E);
          return $x->{status} == 200 ? { map { $_->{id} => 1 } @{ $x->{json}{items} } } : $x->{status} }
ok(ids('approval=approved')->{$id}, 'approval=approved lists it');
ok(!ids('approval=none')->{$id}, 'approval=none does not');
ok(ids('approval=none')->{$other->{id}}, '... but lists an asset without a decision');
ok(ids("approval=approved&project=$default")->{$id}, 'with project');
ok(!ids('approval=approved&status=ready')->{$id}, 'with status (no preview yet)');
is(ids('approval=ok'), 400, 'an unknown approval: 400');

# a new version starts at none: the asset follows its latest version
$s->api(PATCH => "/api/assets/$id", { staging_key => $s->upload($E, 'second') }, token => $E);
my $v2 = $s->api(POST => '/api/promote', { asset_id => $id }, token => $E)->{json}{version};
is($v2->{approval}{status}, 'none', 'v2 starts without a decision');
is($s->api(GET => "/api/assets/$id", undef, token => $E)->{json}{asset}{approval}{status}, 'none',
   'the asset\'s approval is now v2\'s');
ok(ids('approval=none')->{$id}, 'approval=none lists it now');

# --- events ----------------------------------------------------------------------------------
sub open_sse { my ($path, $token) = @_; return sse_open($s, $path, Authorization => "Bearer $token") }
sub wait_for { return sse_wait(@_) }
my $sse = open_sse("/api/preview/events?asset_id=$id", $COL);
ok(wait_for($sse, qr/event: status/), 'the asset\'s stream opens');
$s->api(PUT => "/api/versions/$v2->{id}/approval", { status => 'in_review' }, token => $E);
ok(wait_for($sse, qr/event: approval\ndata: [^\n]*"status":"in_review"/), 'an approval is an event of the asset');
$s->api(POST => "/api/comments/$tz->{id}/resolve", undef, token => $E);
ok(wait_for($sse, qr/event: comment\ndata: [^\n]*"action":"resolved"/), 'a resolution too');
post($id, { parent_id => $tz->{id}, content => 'evented reply' });
ok(wait_for($sse, qr/event: comment\ndata: [^\n]*"parent_id":"$tz->{id}"/), 'a reply names its parent');

# --- delete a thread: its replies go with it -------------------------------------------------
is($s->api(DELETE => "/api/comments/$ta->{id}", undef, token => $E)->{status}, 204, 'the author deletes thread A');
is($s->psql(qq{SELECT count(*) FROM comments WHERE parent_id = '$ta->{id}'}), "0\n", '... its replies are gone');
is($s->api(DELETE => "/api/comments/$r2->{id}", undef, token => $COL)->{status}, 404, '... a reply of it is 404');
my $reply = post($id, { parent_id => $tb->{id}, content => 'short-lived' }, $COL)->{json}{comment};
is($s->api(DELETE => "/api/comments/$reply->{id}", undef, token => $COL)->{status}, 204, 'a reply\'s author deletes it');
my ($tbi) = grep { $_->{id} eq $tb->{id} } @{ list()->{json}{items} };
is($tbi->{reply_count}, 0, '... its thread\'s reply_count follows');

# --- audit ------------------------------------------------------------------------------------
my $audit = $s->psql(q{SELECT action || ' ' || coalesce(project_id::text, '-') || ' ' || coalesce(asset_id::text, '-')
                         FROM audit_log WHERE action IN ('comment_update', 'comment_resolve', 'comment_reopen',
                                                         'version_approval') ORDER BY id});
my %acts;
for (split /\n/, $audit) { my ($a, $p, $as) = split / /; $acts{$a}++ if $p eq $default && $as eq $id }
is_deeply(\%acts, { comment_update => 2, comment_resolve => 4, comment_reopen => 2, version_approval => 4 },
          'edits, resolutions, reopenings and approvals are audited with their project and asset');
like($s->psql(q{SELECT details::text FROM audit_log WHERE action = 'version_approval' ORDER BY id DESC LIMIT 1}),
     qr/"before": "none".*"status": "in_review"/, 'an approval\'s row says before and after');
like($s->psql(qq{SELECT details::text FROM audit_log WHERE action = 'comment_delete' AND target_id = '$ta->{id}'}),
     qr/"replies": 2/, 'a thread\'s deletion counts its replies');
like($s->psql(q{SELECT details::text FROM audit_log WHERE action = 'comment_update' ORDER BY id LIMIT 1}),
     qr/"after": "Thread B, edited".*"before": "Thread B"/, 'an edit keeps before and after');

$s->check_error_log;
done_testing();
