#!/usr/bin/perl
# The project authorization matrix (issue 19), the reference as routes are
# added: every route that touches an asset or a project, called by a
# member of the asset's project in each project role (viewer, commenter,
# editor who did not make the asset, editor who owns it, manager), by a
# non-member (404: the asset's existence is not revealed) and by an admin
# who is no member (admins see all).  Then what each sees in the lists,
# the search and the event streams.  t/34-authz-matrix.t keeps the
# instance roles' matrix (anonymous, viewer, editor, admin).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time);
use Mam::Stack;
use Mam::Sse qw(sse_open sse_wait);

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my %user;
$user{$_} = $s->register("$_\@example.com")
    for qw(manager viewer commenter editor owner outsider extra);
my $A = $admin->{access_token};
my $M = $user{manager}{access_token};

# the project P: made by the manager, who adds a member in each role; the
# admin is no member of it
my $r = $s->api(POST => '/api/projects', { name => 'Client A', description => 'the first client' },
                token => $M);
is($r->{status}, 201, 'an editor creates a project: 201');
my $P = $r->{json}{project}{id};
is($r->{json}{project}{my_role}, 'manager', 'its creator is its manager');
my %role = (viewer => 'viewer', commenter => 'commenter', editor => 'editor', owner => 'editor');
for my $who (sort keys %role) {
    $r = $s->api(POST => "/api/projects/$P/members",
                 { user_id => $user{$who}{user}{id}, role => $role{$who} }, token => $M);
    is($r->{status}, 201, "the manager adds the $who as $role{$who}: 201");
}
# a member's change outdates their tokens (as a role change does): 401 until
# they sign in again
is($s->api(GET => '/api/projects', undef, token => $user{viewer}{access_token})->{status}, 401,
   'a new member\'s old token is refused (authz_version)');
$user{$_} = $s->login("$_\@example.com") for keys %role;

# a second project the manager manages, to move assets into
my $P2 = $s->api(POST => '/api/projects', { name => 'Client B' }, token => $M)->{json}{project}{id};
my $blank = $s->api(POST => '/api/projects', { name => '   ' }, token => $M);
is($blank->{status}, 400, 'a blank project name is 400');
like($blank->{json}{message} // '', qr/^name: must not be blank/, '... saying which field');

my %tok = (map({ $_ => $user{$_}{access_token} } keys %user), admin => $A);
my @who = qw(viewer commenter editor owner manager outsider admin);
my $O = $tok{owner};

# fresh resources per call, so a success does not change the next row
sub asset { $s->create_asset($O, project_id => $P, title => 'In project A') }
sub promoted {
    my $a = asset();
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $O);
    die "promote: $r->{status}\n" unless $r->{status} == 201;
    return $a;
}
sub version {
    my $a = asset();
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $O);
    die "promote: $r->{status}\n" unless $r->{status} == 201;
    return $r->{json}{version}{id};
}
# a folder of P (made by the manager), fresh per call
my $fn = 0;
sub folder {
    my $r = $s->api(POST => "/api/projects/$P/folders", { name => 'folder ' . ++$fn }, token => $M);
    die "folder: $r->{status}\n" unless $r->{status} == 201;
    return $r->{json}{folder}{id};
}
sub comment {
    my ($by) = @_;
    my $a = asset();
    my $r = $s->api(POST => "/api/assets/$a->{id}/comments", { timestamp_sec => 1, content => 'x' },
                    token => $by // $O);
    die "comment: $r->{status}\n" unless $r->{status} == 201;
    return $r->{json}{comment}{id};
}
# a thread the owner wrote and resolved
sub resolved {
    my $c = comment();
    my $r = $s->api(POST => "/api/comments/$c/resolve", undef, token => $O);
    die "resolve: $r->{status}\n" unless $r->{status} == 200;
    return $c;
}

# a review link of P (made by the manager), fresh per call
sub share {
    my $a = asset();
    my $r = $s->api(POST => '/api/shares', { asset_ids => [$a->{id}] }, token => $M);
    die "share: $r->{status}\n" unless $r->{status} == 201;
    return $r->{json}{share}{id};
}

# a field of P for the value rows, and a fresh one per call for the others
my $fields = 0;
$s->api(POST => "/api/projects/$P/fields", { name => 'note', label => 'Note', kind => 'text' }, token => $M)->{status} == 201
    or die "field note\n";
sub field {
    my $r = $s->api(POST => "/api/projects/$P/fields", { name => 'g' . ++$fields, label => 'G', kind => 'text' },
                    token => $M);
    die "field: $r->{status}\n" unless $r->{status} == 201;
    return $r->{json}{field}{id};
}

# a webhook of P (made by the manager), fresh per call
sub webhook_body { { project_id => $P, url => 'http://hooks.invalid/x', events => ['asset.created'],
                     secret => 'sixteen-chars-at-least' } }
sub webhook {
    # (a project holds at most 20)
    $s->psql("DELETE FROM webhooks WHERE project_id = '$P'");
    my $r = $s->api(POST => '/api/webhooks', webhook_body(), token => $M);
    die "webhook: $r->{status}\n" unless $r->{status} == 201;
    return $r->{json}{webhook}{id};
}

# a notification of an asset of P for a user (by the extra user)
my %uid = (map({ $_ => $user{$_}{user}{id} } keys %user), admin => $admin->{user}{id});
sub notification {
    my ($to) = @_;
    my $a = asset();
    my $n = $s->psql("INSERT INTO notifications (user_id, kind, asset_id, actor_id) VALUES "
                     . "('$to', 'mention', '$a->{id}', '$user{extra}{user}{id}') RETURNING id");
    $n =~ s/\s+//g;
    return $n;
}

my %members = map { $_ => 1 } qw(viewer commenter editor owner manager admin);
sub seen { my ($ok) = @_; return { map { $_ => $members{$_} ? $ok : 404 } @who } }
sub by {
    my (%h) = @_;
    return { outsider => 404, admin => $h{manager}, %h };
}
my $managers = sub { by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => $_[0]) };

my @matrix = (
    ['GET /api/assets/:id', sub { my $a = asset(); (GET => "/api/assets/$a->{id}") }, seen(200)],
    ['PATCH /api/assets/:id', sub { my $a = asset(); (PATCH => "/api/assets/$a->{id}", { title => 'new' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 200, manager => 200)],
    ['PATCH /api/assets/:id {project_id} (a move)', sub { my $a = asset();
                                                          (PATCH => "/api/assets/$a->{id}", { project_id => $P2 }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 200)],
    ['DELETE /api/assets/:id', sub { my $a = asset(); (DELETE => "/api/assets/$a->{id}") },
     by(viewer => 403, commenter => 403, editor => 403, owner => 204, manager => 204)],
    ['POST /api/promote', sub { my $a = asset(); (POST => '/api/promote', { asset_id => $a->{id} }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 201, manager => 201)],
    ['POST /api/preview', sub { my $a = promoted(); (POST => '/api/preview', { asset_id => $a->{id} }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 202, manager => 202)],
    ['GET /api/preview/status', sub { my $a = asset(); (GET => "/api/preview/status?asset_id=$a->{id}") },
     seen(200)],
    ['POST /api/sign-preview (the preview is not ready: 409)',
     sub { my $a = promoted(); (POST => '/api/sign-preview', { asset_id => $a->{id} }) }, seen(409)],
    ['POST /api/versions/:id/download (only the manager has can_download)',
     sub { my $v = version(); (POST => "/api/versions/$v/download", { rendition => 'original' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 200)],
    ['GET /api/assets/:id/comments', sub { my $a = asset(); (GET => "/api/assets/$a->{id}/comments") },
     seen(200)],
    ['POST /api/assets/:id/comments', sub { my $a = asset();
                                            (POST => "/api/assets/$a->{id}/comments",
                                             { timestamp_sec => 0, content => 'hi' }) },
     by(viewer => 403, commenter => 201, editor => 201, owner => 201, manager => 201)],
    ['DELETE /api/comments/:id (the owner wrote it)', sub { my $c = comment(); (DELETE => "/api/comments/$c") },
     by(viewer => 403, commenter => 403, editor => 403, owner => 204, manager => 204)],
    # the review workflow (issue 21, t/45-review.t)
    ['GET /api/assets/:id/comments?status=open&mine=1',
     sub { my $a = asset(); (GET => "/api/assets/$a->{id}/comments?status=open&mine=1") }, seen(200)],
    ['POST /api/assets/:id/comments {parent_id} (a reply)',
     sub { my $c = comment(); my ($a) = $s->psql("SELECT asset_id FROM comments WHERE id = '$c'") =~ /(\S+)/;
           (POST => "/api/assets/$a/comments", { parent_id => $c, content => 'a reply' }) },
     by(viewer => 403, commenter => 201, editor => 201, owner => 201, manager => 201)],
    ['PATCH /api/comments/:id (the owner wrote it)', sub { my $c = comment(); (PATCH => "/api/comments/$c", { content => 'edited' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 200, manager => 403)],
    ['POST /api/comments/:id/resolve (the owner wrote it)', sub { my $c = comment(); (POST => "/api/comments/$c/resolve") },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['POST /api/comments/:id/resolve (the commenter wrote it)',
     sub { my $c = comment($tok{commenter}); (POST => "/api/comments/$c/resolve") },
     by(viewer => 403, commenter => 200, editor => 200, owner => 200, manager => 200)],
    ['POST /api/comments/:id/reopen', sub { my $c = resolved(); (POST => "/api/comments/$c/reopen") },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['PUT /api/versions/:id/approval', sub { my $v = version(); (PUT => "/api/versions/$v/approval", { status => 'approved' }) },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['GET /api/versions/:id/approvals', sub { my $v = version(); (GET => "/api/versions/$v/approvals") }, seen(200)],
    # notifications and @mentions (issue 21, t/46-notifications.t): a
    # user's own notifications, while they may see the asset; the members'
    # completion for members
    ['GET /api/notifications', sub { (GET => '/api/notifications?unread=1') }, { map { $_ => 200 } @who }],
    ['POST /api/notifications/read-all', sub { (POST => '/api/notifications/read-all') },
     { map { $_ => 200 } @who }],
    ['POST /api/notifications/:id/read (their own, of an asset of P)',
     sub { my ($who) = @_; my $n = notification($uid{$who}); (POST => "/api/notifications/$n/read") }, seen(200)],
    ['POST /api/notifications/:id/read (the owner\'s)',
     sub { my $n = notification($uid{owner}); (POST => "/api/notifications/$n/read") },
     { (map { $_ => 404 } @who), owner => 200 }],
    ['GET /api/projects/:id/members?q=', sub { (GET => "/api/projects/$P/members?q=e") }, seen(200)],
    ['POST /api/assets {project_id}', sub { my ($who) = @_;
                                             my $key = $s->upload($tok{$who}, 'abc');
                                             (POST => '/api/assets',
                                              { title => 't', staging_key => $key, project_id => $P }) },
     by(viewer => 403, commenter => 403, editor => 201, owner => 201, manager => 201)],
    ['GET /api/projects/:id', sub { (GET => "/api/projects/$P") }, seen(200)],
    ['GET /api/projects/:id/folders', sub { (GET => "/api/projects/$P/folders") }, seen(200)],
    ['POST /api/projects/:id/folders', sub { (POST => "/api/projects/$P/folders", { name => 'new ' . ++$fn }) },
     by(viewer => 403, commenter => 403, editor => 201, owner => 201, manager => 201)],
    ['PATCH /api/folders/:id (rename)', sub { my $f = folder(); (PATCH => "/api/folders/$f", { name => 'renamed ' . ++$fn }) },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['PATCH /api/folders/:id (move)', sub { my ($f, $to) = (folder(), folder());
                                            (PATCH => "/api/folders/$f", { parent_id => $to }) },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['DELETE /api/folders/:id', sub { my $f = folder(); (DELETE => "/api/folders/$f") },
     by(viewer => 403, commenter => 403, editor => 204, owner => 204, manager => 204)],
    ['POST /api/assets {project_id, folder_id}', sub { my ($who) = @_;
                                                       my $f = folder();
                                                       my $key = $s->upload($tok{$who}, 'abc');
                                                       (POST => '/api/assets',
                                                        { title => 't', staging_key => $key, project_id => $P,
                                                          folder_id => $f }) },
     by(viewer => 403, commenter => 403, editor => 201, owner => 201, manager => 201)],
    ['PATCH /api/assets/:id {folder_id}', sub { my $a = asset(); my $f = folder();
                                                (PATCH => "/api/assets/$a->{id}", { folder_id => $f }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 200, manager => 200)],
    ['PATCH /api/projects/:id', sub { (PATCH => "/api/projects/$P", { description => 'changed' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 200)],
    ['POST /api/projects/:id/members', sub { (POST => "/api/projects/$P/members",
                                              { user_id => $user{extra}{user}{id}, role => 'viewer' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 201)],
    ['PATCH /api/projects/:id/members', sub { (PATCH => "/api/projects/$P/members",
                                               { user_id => $user{extra}{user}{id}, can_download => JSON::PP::true }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 200)],
    ['POST /api/projects/:id/members {email}', sub { (POST => "/api/projects/$P/members",
                                                      { email => 'EXTRA@example.com', role => 'viewer' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 201)],
    ['DELETE /api/projects/:id/members', sub { (DELETE => "/api/projects/$P/members",
                                                { user_id => $user{extra}{user}{id} }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 204)],
    # custom fields (t/39-fields.t): members read, managers change
    ['GET /api/projects/:id/fields', sub { (GET => "/api/projects/$P/fields") }, seen(200)],
    ['POST /api/projects/:id/fields', sub { (POST => "/api/projects/$P/fields",
                                             { name => 'f' . ++$fields, label => 'F', kind => 'text' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 201)],
    ['PATCH /api/fields/:id', sub { my $f = field(); (PATCH => "/api/fields/$f", { label => 'changed' }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 200)],
    ['DELETE /api/fields/:id', sub { my $f = field(); (DELETE => "/api/fields/$f") },
     by(viewer => 403, commenter => 403, editor => 403, owner => 403, manager => 204)],
    ['PATCH /api/assets/:id {fields, tags}', sub { my $a = asset();
                                                   (PATCH => "/api/assets/$a->{id}",
                                                    { fields => { note => 'n' }, tags => ['t'] }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 200, manager => 200)],
    ['PATCH /api/assets (bulk)', sub { my $a = asset();
                                       (PATCH => '/api/assets',
                                        { ids => [$a->{id}], fields => { note => 'n' }, tags_add => ['t'] }) },
     by(viewer => 403, commenter => 403, editor => 403, owner => 200, manager => 200)],
    # webhooks (issue 22, t/66-webhooks.t): managers only (the URL is never
    # reached: nothing delivers them here)
    ['GET /api/webhooks?project=', sub { (GET => "/api/webhooks?project=$P") }, $managers->(200)],
    ['POST /api/webhooks', sub { (POST => '/api/webhooks', webhook_body()) }, $managers->(201)],
    ['GET /api/webhooks/:id', sub { my $w = webhook(); (GET => "/api/webhooks/$w") }, $managers->(200)],
    ['PATCH /api/webhooks/:id', sub { my $w = webhook(); (PATCH => "/api/webhooks/$w", { active => JSON::PP::false }) },
     $managers->(200)],
    ['DELETE /api/webhooks/:id', sub { my $w = webhook(); (DELETE => "/api/webhooks/$w") }, $managers->(204)],
    ['GET /api/webhooks/:id/deliveries', sub { my $w = webhook(); (GET => "/api/webhooks/$w/deliveries") },
     $managers->(200)],
    ['POST /api/webhooks/:id/test', sub { my $w = webhook(); (POST => "/api/webhooks/$w/test") }, $managers->(202)],
    # review links (issue 22, t/47-shares.t): editors and managers share
    ['POST /api/shares', sub { my $a = asset(); (POST => '/api/shares', { asset_ids => [$a->{id}] }) },
     by(viewer => 403, commenter => 403, editor => 201, owner => 201, manager => 201)],
    ['POST /api/shares {folder_id}', sub { my $f = folder(); (POST => '/api/shares', { folder_id => $f }) },
     by(viewer => 403, commenter => 403, editor => 201, owner => 201, manager => 201)],
    ['GET /api/shares?project=', sub { (GET => "/api/shares?project=$P") },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['GET /api/shares/:id', sub { my $i = share(); (GET => "/api/shares/$i") },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['PATCH /api/shares/:id', sub { my $i = share(); (PATCH => "/api/shares/$i", { allow_comments => JSON::PP::true }) },
     by(viewer => 403, commenter => 403, editor => 200, owner => 200, manager => 200)],
    ['DELETE /api/shares/:id', sub { my $i = share(); (DELETE => "/api/shares/$i") },
     by(viewer => 403, commenter => 403, editor => 204, owner => 204, manager => 204)],
);

for my $row (@matrix) {
    my ($name, $build, $expect) = @$row;
    for my $who (@who) {
        # the member rows need the extra user in the project (or not)
        if ($name =~ m{^(PATCH|DELETE) /api/projects/:id/members}) {
            $s->psql("INSERT INTO project_members (project_id, user_id, role) VALUES ('$P', "
                     . "'$user{extra}{user}{id}', 'viewer') ON CONFLICT DO NOTHING");
        } elsif ($name =~ m{^POST /api/projects/:id/members}) {
            $s->psql("DELETE FROM project_members WHERE user_id = '$user{extra}{user}{id}' "
                     . "AND project_id = '$P'");
        }
        my ($method, $path, $body) = $build->($who);
        my $r = $s->api($method, $path, $body, token => $tok{$who});
        is($r->{status}, $expect->{$who}, "$name as $who: $expect->{$who}")
            or diag($r->{content});
    }
}

# --- what each sees -----------------------------------------------------------

my $seen = asset();
$s->api(PATCH => "/api/assets/$seen->{id}", { title => 'Zanzibar harbour', description => 'in project A' },
        token => $O);
my $default = $s->create_asset($tok{outsider}, title => 'Zanzibar default');
for my $who (@who) {
    my %ids = map { $_->{id} => 1 }
              @{ $s->api(GET => '/api/assets?limit=100', undef, token => $tok{$who})->{json}{items} };
    is(!!$ids{$seen->{id}}, !!$members{$who}, "GET /api/assets as $who: project A's asset "
       . ($members{$who} ? 'listed' : 'not listed'));
    my %found = map { $_->{id} => 1 }
                @{ $s->api(GET => '/api/assets?q=zanzibar', undef, token => $tok{$who})->{json}{items} };
    is(!!$found{$seen->{id}}, !!$members{$who}, "GET /api/assets?q= as $who: "
       . ($members{$who} ? 'found' : 'not found'));
    # every account is a member of the default project
    ok($found{$default->{id}}, "GET /api/assets?q= as $who: the default project's asset found");
}

# the project list: members see their projects; admins all
my %pl = map { $_ => { map { $_->{id} => 1 } @{ $s->api(GET => '/api/projects', undef,
                                                         token => $tok{$_})->{json}{items} } } } @who;
ok($pl{viewer}{$P} && !$pl{outsider}{$P} && $pl{admin}{$P}, 'GET /api/projects: members and admins see P');

# a page of the manager's list is in order across both projects, with a
# cursor that continues it
$s->create_asset($M, project_id => $P2, title => "moved $_") for 1 .. 3;
my (@all, $cursor);
do {
    my $r = $s->api(GET => '/api/assets?limit=5' . ($cursor ? "&cursor=$cursor" : ''), undef, token => $M);
    push @all, @{ $r->{json}{items} };
    $cursor = $r->{json}{next_cursor};
} while ($cursor);
my @times = map { $_->{created_at} } @all;
is_deeply(\@times, [ sort { $b cmp $a } @times ], 'the scoped list pages newest first across projects');
my %uniq = map { $_->{id} => 1 } @all;
is(scalar(keys %uniq), scalar(@all), 'no asset twice across the pages');

# --- events: a non-member's streams carry nothing of project A --------------

sub open_sse { my ($path, $token) = @_; return sse_open($s, $path, Authorization => "Bearer $token") }
sub wait_for { return sse_wait(@_) }

my $target = asset();
for my $who (qw(outsider viewer admin)) {
    my $c = open_sse("/api/preview/events?asset_id=$target->{id}", $tok{$who});
    my $ok = $who eq 'outsider' ? 404 : 200;
    ok(wait_for($c, qr{^HTTP/1.1 $ok}), "GET /api/preview/events?asset_id= as $who: $ok");
}
my %all = map { $_ => open_sse('/api/preview/events', $tok{$_}) } qw(outsider viewer admin);
ok(wait_for($all{$_}, qr/: connected/), "every asset's stream of the $_ opens") for sort keys %all;
$s->api(POST => "/api/assets/$target->{id}/comments", { timestamp_sec => 1, content => 'secret' }, token => $O);
ok(wait_for($all{viewer}, qr/event: comment\ndata: [^\n]*$target->{id}/), 'a member receives the comment event');
ok(wait_for($all{admin}, qr/event: comment\ndata: [^\n]*$target->{id}/), 'an admin receives it');
ok(!wait_for($all{outsider}, qr/$target->{id}/, 1), 'a non-member does not');

# removing a member ends their streams at once
$s->api(DELETE => "/api/projects/$P/members", { user_id => $user{viewer}{user}{id} }, token => $M);
ok(wait_for($all{viewer}, qr/0\r\n\r\n/, 5), 'a removed member\'s stream ends');
$user{viewer} = $s->login('viewer@example.com');
is($s->api(GET => "/api/assets/$target->{id}", undef, token => $user{viewer}{access_token})->{status}, 404,
   'and the asset is now 404 for them');

# --- projects: delete ---------------------------------------------------------

is($s->api(DELETE => "/api/projects/$P", undef, token => $M)->{status}, 409,
   'a project that holds assets cannot be deleted: 409');
my $default_id = $s->psql('SELECT id FROM projects WHERE is_default');
chomp $default_id;
is($s->api(DELETE => "/api/projects/$default_id", undef, token => $A)->{status}, 409,
   'the default project cannot be deleted: 409');
my $empty = $s->api(POST => '/api/projects', { name => 'Empty' }, token => $M)->{json}{project}{id};
is($s->api(DELETE => "/api/projects/$empty", undef, token => $tok{outsider})->{status}, 404,
   'a non-member deleting a project: 404');
is($s->api(DELETE => "/api/projects/$empty", undef, token => $M)->{status}, 204, 'its manager deletes it: 204');
is($s->api(GET => "/api/projects/$empty", undef, token => $M)->{status}, 404, 'then it is gone');

like($s->psql(q{SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM audit_log
                 WHERE action LIKE 'project%' OR action LIKE 'member%' OR action = 'play_sign'
                    OR action = 'download' OR action LIKE 'folder%'}),
     qr/^download,folder_create,folder_delete,folder_update,member_add,member_remove,member_update,project_create,project_delete,project_update$/m,
     'project and member changes are audited');

$s->check_error_log;
done_testing();
