#!/usr/bin/perl
# Custom fields, values, tags and the bulk edit (issue 19): the field
# definitions of a project (kinds, choices, bounds, a taken name, name and
# kind fixed, a used choice kept, a deleted field's values gone), each
# kind's values as PATCH /api/assets/:id takes them (good and bad, their
# stored form), the tags' normalization, and PATCH /api/assets (all or
# nothing, its bound, mixed projects, 403/404 naming the asset), with
# their audit rows.  t/38-project-authz.t has the routes' role matrix.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my %u = map { $_ => $s->register("$_\@example.com") } qw(manager editor viewer outsider);
my $A = $admin->{access_token};
my $M = $u{manager}{access_token};

my $P = $s->api(POST => '/api/projects', { name => 'Fields' }, token => $M)->{json}{project}{id};
my $P2 = $s->api(POST => '/api/projects', { name => 'Other' }, token => $M)->{json}{project}{id};
for ([editor => 'editor'], [viewer => 'viewer']) {
    my ($who, $role) = @$_;
    $s->api(POST => "/api/projects/$P/members", { user_id => $u{$who}{user}{id}, role => $role }, token => $M);
}
$u{$_} = $s->login("$_\@example.com") for qw(editor viewer);
my $E = $u{editor}{access_token};
my $V = $u{viewer}{access_token};
my $O = $u{outsider}{access_token};

sub err_like {
    my ($r, $status, $re, $name) = @_;
    is($r->{status}, $status, "$name: $status") or diag($r->{content});
    like($r->{json}{message} // '', $re, "$name: the message says why");
}

# --- definitions --------------------------------------------------------------

my %f;
for my $def ([title2 => 'text'], [count => 'number'], [shot_on => 'date'],
             [rating => 'choice', ['good', 'bad', 'ugly']],
             [genres => 'multi_choice', ['drama', 'comedy', 'news']], [labels => 'tags']) {
    my ($name, $kind, $choices) = @$def;
    my $r = $s->api(POST => "/api/projects/$P/fields",
                    { name => $name, label => ucfirst($name), kind => $kind,
                      ($choices ? (choices => $choices) : ()) }, token => $M);
    is($r->{status}, 201, "a $kind field: 201") or diag($r->{content});
    $f{$name} = $r->{json}{field};
}
is($f{rating}{project_id}, $P, 'the field object has its project');
is_deeply($f{rating}{choices}, ['good', 'bad', 'ugly'], '... its choices, in order');
is_deeply($f{count}{choices}, [], '... none for a number');
ok(defined $f{count}{position} && $f{count}{created_at} && $f{count}{updated_at}, '... position and times');
ok($f{labels}{position} > $f{title2}{position}, 'a new field goes last');

err_like($s->api(POST => "/api/projects/$P/fields", { name => 'count', label => 'Again', kind => 'text' },
                 token => $M), 409, qr/count/, 'a taken name');
for my $bad (['1abc', 'a name starting with a digit'], ['Abc', 'a capital'], ['a-b', 'a dash'],
             ['a' x 41, 'a 41-character name'], ['', 'an empty name']) {
    err_like($s->api(POST => "/api/projects/$P/fields", { name => $bad->[0], label => 'x', kind => 'text' },
                     token => $M), 400, qr/^name:/, $bad->[1]);
}
ok($s->api(POST => "/api/projects/$P/fields", { name => 'a' x 40, label => 'Forty', kind => 'text' },
           token => $M)->{status} == 201, 'a 40-character name: 201');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'colour' },
                 token => $M), 400, qr/^kind:/, 'an unknown kind');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => '  ', kind => 'text' },
                 token => $M), 400, qr/^label:/, 'a blank label');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'choice' },
                 token => $M), 400, qr/^choices: required/, 'a choice field without choices');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'text', choices => ['a'] },
                 token => $M), 400, qr/^choices: only/, 'choices for a text field');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'choice', choices => [] },
                 token => $M), 400, qr/^choices:/, 'no choices');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'choice', choices => ['a', 'a'] },
                 token => $M), 400, qr/^choices: must be distinct/, 'a choice twice');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'choice', choices => ['x' x 101] },
                 token => $M), 400, qr/^choices:/, 'a 101-character choice');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'choice', choices => [1] },
                 token => $M), 400, qr/^choices:/, 'a choice that is not a string');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'choice',
                                                      choices => [map { "c$_" } 1 .. 201] },
                 token => $M), 400, qr/^choices:/, '201 choices');
is($s->api(POST => "/api/projects/$P/fields", { name => 'k200', label => 'x', kind => 'choice',
                                                choices => [map { "c$_" } 1 .. 200] }, token => $M)->{status},
   201, '200 choices: 201');
err_like($s->api(POST => "/api/projects/$P/fields", { name => 'k', label => 'x', kind => 'text', position => 'first' },
                 token => $M), 400, qr/^position:/, 'a position that is not an integer');

# at most 100 fields a project
$s->psql("INSERT INTO project_fields (project_id, name, label, kind) "
         . "SELECT '$P2', 'f' || n, 'F', 'text' FROM generate_series(1, 100) n");
err_like($s->api(POST => "/api/projects/$P2/fields", { name => 'one_more', label => 'x', kind => 'text' },
                 token => $M), 409, qr/at most 100/, 'the 101st field of a project');
$s->psql("DELETE FROM project_fields WHERE project_id = '$P2'");

# the list: by position, then name; for members only
my $r = $s->api(GET => "/api/projects/$P/fields", undef, token => $V);
is($r->{status}, 200, 'a viewer lists the fields');
my @names = map { $_->{name} } @{ $r->{json}{items} };
is_deeply([@names[0 .. 5]], [qw(title2 count shot_on rating genres labels)], '... by position');
is($s->api(GET => "/api/projects/$P/fields", undef, token => $O)->{status}, 404, 'a non-member: 404');
is($s->api(GET => "/api/projects/$P/fields", undef, token => $A)->{status}, 200, 'an admin (no member): 200');
is($s->api(POST => "/api/projects/$P/fields", { name => 'z', label => 'z', kind => 'text' }, token => $E)->{status},
   403, 'an editor may not define a field: 403');

# changes: label, choices, position; name and kind are fixed
$r = $s->api(PATCH => "/api/fields/$f{rating}{id}", { label => 'Rating', position => 0 }, token => $M);
is($r->{status}, 200, 'PATCH a field: 200');
is($r->{json}{field}{label}, 'Rating', '... the new label');
$r = $s->api(GET => "/api/projects/$P/fields", undef, token => $M);
is_deeply([map { $_->{name} } grep { $_->{position} == 0 } @{ $r->{json}{items} }], ['rating', 'title2'],
          'equal positions are ordered by name');
err_like($s->api(PATCH => "/api/fields/$f{rating}{id}", { name => 'stars' }, token => $M), 400, qr/^name: cannot/,
         'a new name');
err_like($s->api(PATCH => "/api/fields/$f{rating}{id}", { kind => 'text' }, token => $M), 400, qr/^kind: cannot/,
         'a new kind');
err_like($s->api(PATCH => "/api/fields/$f{rating}{id}", {}, token => $M), 400, qr/required/, 'nothing to change');
err_like($s->api(PATCH => "/api/fields/$f{count}{id}", { choices => ['a'] }, token => $M), 400, qr/^choices: only/,
         'choices for a number field');
is($s->api(PATCH => "/api/fields/$f{rating}{id}", { label => 'x' }, token => $E)->{status}, 403,
   'an editor may not change a field: 403');
is($s->api(PATCH => "/api/fields/$f{rating}{id}", { label => 'x' }, token => $O)->{status}, 404,
   'a non-member: 404');
is($s->api(PATCH => '/api/fields/00000000-0000-0000-0000-000000000000', { label => 'x' }, token => $M)->{status},
   404, 'no such field: 404');

# --- values ------------------------------------------------------------------

my $a = $s->create_asset($E, project_id => $P, title => 'Values');
sub patch { $s->api(PATCH => "/api/assets/$a->{id}", @_) }

my %good = (
    title2 => ['a title', 'a title'],
    count => [5, 5],
    shot_on => ['2024-02-29', '2024-02-29'],
    rating => ['good', 'good'],
    genres => [['news', 'drama'], ['drama', 'news']],
    labels => [['  Big ', 'big', 'Small'], ['big', 'small']],
);
for my $k (sort keys %good) {
    $r = patch({ fields => { $k => $good{$k}[0] } }, token => $E);
    is($r->{status}, 200, "a good $k: 200") or diag($r->{content});
    is_deeply($r->{json}{asset}{fields}{$k}, $good{$k}[1], "... stored as expected");
}
$r = $s->api(GET => "/api/assets/$a->{id}", undef, token => $V);
is_deeply([sort keys %{ $r->{json}{asset}{fields} }], [sort keys %good], 'GET shows every value');

# a number in one canonical form
for my $n (['5.0', '5'], ['0.50', '0.5'], ['-1.25e2', '-125'], ['1e3', '1000']) {
    $r = patch("{\"fields\":{\"count\":$n->[0]}}", token => $E);
    is($r->{status}, 200, "the number $n->[0]: 200");
    is($s->psql("SELECT fields->>'count' FROM assets WHERE id = '$a->{id}'"), "$n->[1]\n",
       "... stored as $n->[1]");
}

my @bad = (
    [title2 => 5, 'a number for text'], [title2 => 'x' x 1001, '1001 characters of text'],
    [count => '5', 'a string for a number'], [count => 1e16, 'a number beyond 1e15'],
    [count => JSON::PP::true, 'a boolean for a number'],
    [shot_on => '2023-02-29', 'no such day'], [shot_on => '2024-13-01', 'no such month'],
    [shot_on => '24-01-01', 'a short year'], [shot_on => '2024-01-01T00:00:00Z', 'a time'],
    [rating => 'great', 'not a choice'], [rating => ['good'], 'an array for a choice'],
    [genres => 'drama', 'a string for a multi choice'], [genres => ['drama', 'drama'], 'a choice twice'],
    [genres => ['drama', 'opera'], 'an unknown choice'],
    [labels => 'big', 'a string for tags'], [labels => [''], 'an empty tag'],
    [labels => ['x' x 65], 'a 65-character tag'], [labels => ["a\tb"], 'a control character'],
);
for my $b (@bad) {
    my ($k, $v, $name) = @$b;
    err_like(patch({ fields => { $k => $v } }, token => $E), 400, qr/^fields\.$k:/, "$name");
}
err_like(patch({ fields => { nosuch => 1 } }, token => $E), 400, qr/^fields\.nosuch: no such field/,
         'an unknown field, named');
err_like(patch({ fields => [1] }, token => $E), 400, qr/^fields: must be an object/, 'fields not an object');
$r = $s->api(GET => "/api/assets/$a->{id}", undef, token => $V);
is($r->{json}{asset}{fields}{rating}, 'good', 'a refused change changed nothing');

$r = patch({ fields => { rating => undef, title2 => 'kept' } }, token => $E);
ok(!exists $r->{json}{asset}{fields}{rating}, 'null removes a value');
is($r->{json}{asset}{fields}{title2}, 'kept', '... and the others stay or change');

# tags
$r = patch({ tags => [' Sunset ', 'sunset', 'BEACH', 'été'] }, token => $E);
is($r->{status}, 200, 'tags: 200');
is_deeply($r->{json}{asset}{tags}, ['beach', 'sunset', 'été'], 'tags trimmed, lowercased, deduplicated, sorted (bytewise)');
err_like(patch({ tags => [map { "t$_" } 1 .. 51] }, token => $E), 400, qr/^tags:/, '51 tags');
err_like(patch({ tags => ['   '] }, token => $E), 400, qr/^tags:/, 'a blank tag');
err_like(patch({ tags => ["a\nb"] }, token => $E), 400, qr/^tags:/, 'a tag with a newline inside');
err_like(patch({ tags => [{}] }, token => $E), 400, qr/^tags:/, 'a tag that is no string');
$r = patch({ tags => [] }, token => $E);
is_deeply($r->{json}{asset}{tags}, [], 'an empty array clears the tags');
$r = patch({ tags => ['a', 'b'] }, token => $E);

# rights: as for any change of the asset
is(patch({ tags => ['x'] }, token => $V)->{status}, 403, 'a viewer: 403');
is(patch({ tags => ['x'] }, token => $O)->{status}, 404, 'a non-member: 404');
is(patch({ tags => ['x'] }, token => $M)->{status}, 200, 'a manager: 200');
is(patch({ tags => ['a', 'b'] }, token => $A)->{status}, 200, 'an admin: 200');

my $audit = decode_json($s->psql("SELECT details FROM audit_log WHERE action = 'asset_update' "
                                  . "AND target_id = '$a->{id}' ORDER BY id DESC LIMIT 1"));
is_deeply($audit->{after}{tags}, ['a', 'b'], 'asset_update audits the tags after');
ok(exists $audit->{before}{fields} && exists $audit->{after}{fields}, '... and the fields before and after');

# a choice in use stays; one unused goes
$r = patch({ fields => { rating => 'bad', genres => ['comedy'] } }, token => $E);
err_like($s->api(PATCH => "/api/fields/$f{rating}{id}", { choices => ['good', 'ugly'] }, token => $M),
         409, qr/"bad" is in use/, 'removing a used choice');
err_like($s->api(PATCH => "/api/fields/$f{genres}{id}", { choices => ['drama', 'news'] }, token => $M),
         409, qr/"comedy" is in use/, 'removing a used multi choice');
$r = $s->api(PATCH => "/api/fields/$f{rating}{id}", { choices => ['bad', 'good', 'fine'] }, token => $M);
is($r->{status}, 200, 'removing an unused choice, adding one: 200');
is_deeply($r->{json}{field}{choices}, ['bad', 'good', 'fine'], '... the new choices');

# --- bulk edit ------------------------------------------------------------------

my @mine = map { $s->create_asset($E, project_id => $P, title => "bulk $_") } 1 .. 3;
my @ids = map { $_->{id} } @mine;
$r = $s->api(PATCH => '/api/assets', { ids => \@ids, fields => { rating => 'good', count => 2.50 },
                                       tags_add => ['New', 'shared'] }, token => $E);
is($r->{status}, 200, 'a bulk edit of three assets: 200') or diag($r->{content});
is(scalar @{ $r->{json}{items} }, 3, '... answers the three');
is_deeply([map { $_->{id} } @{ $r->{json}{items} }], \@ids, '... in the order asked');
is_deeply([map { $_->{fields}{rating} } @{ $r->{json}{items} }], [('good') x 3], '... each with the value');
is_deeply($r->{json}{items}[0]{tags}, ['new', 'shared'], '... and the tags added');
$r = $s->api(PATCH => '/api/assets', { ids => \@ids, fields => { rating => undef },
                                       tags_remove => ['NEW'] }, token => $E);
is_deeply($r->{json}{items}[2]{tags}, ['shared'], 'tags_remove (normalized)');
ok(!exists $r->{json}{items}[2]{fields}{rating}, 'a null value clears it');
is($r->{json}{items}[2]{fields}{count}, 2.5, '... the other stays');
is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'asset_update' AND details->>'bulk' = 'true' "
            . "AND target_id IN ('" . join("','", @ids) . "')"), "6\n", 'one audit row per asset and edit');

# all or nothing
my $theirs = $s->create_asset($M, project_id => $P, title => 'the manager\'s');
my $P3 = $s->api(POST => '/api/projects', { name => 'Outside' }, token => $O)->{json}{project}{id};
my $hidden = $s->create_asset($O, project_id => $P3, title => 'the outsider\'s');
err_like($s->api(PATCH => '/api/assets', { ids => [@ids, $theirs->{id}], tags_add => ['nope'] }, token => $E),
         403, qr/\Q$theirs->{id}\E/, 'an asset the editor may not change: 403 naming it');
err_like($s->api(PATCH => '/api/assets', { ids => [$hidden->{id}, @ids], tags_add => ['nope'] }, token => $E),
         404, qr/\Q$hidden->{id}\E/, 'an asset the editor cannot see: 404 naming it');
err_like($s->api(PATCH => '/api/assets', { ids => [@ids], fields => { rating => 'nope' } }, token => $E),
         400, qr/fields\.rating/, 'a bad value: 400');
is($s->psql("SELECT count(*) FROM assets WHERE 'nope' = ANY (tags)"), "0\n", 'nothing changed');

# mixed projects: each asset's own project's fields
$s->api(POST => "/api/projects/$P2/fields", { name => 'rating', label => 'R', kind => 'choice',
                                             choices => ['other'] }, token => $M);
my $in2 = $s->create_asset($M, project_id => $P2, title => 'in P2');
err_like($s->api(PATCH => '/api/assets', { ids => [$in2->{id}, $theirs->{id}], fields => { rating => 'other' } },
                 token => $M), 400, qr/\Q$theirs->{id}\E.*fields\.rating/, 'a value valid in one project only');
$r = $s->api(PATCH => '/api/assets', { ids => [$in2->{id}, $theirs->{id}], tags_add => ['both'] }, token => $M);
is($r->{status}, 200, 'tags across two projects: 200');
err_like($s->api(PATCH => '/api/assets', { ids => [$in2->{id}], fields => { title2 => 'x' } }, token => $M),
         400, qr/fields\.title2: no such field/, 'a field of another project');

# bounds and shapes
my @many = map { $s->create_asset($M, project_id => $P2, title => "m$_")->{id} } 1 .. 101;
$r = $s->api(PATCH => '/api/assets', { ids => [@many[0 .. 99]], tags_add => ['hundred'] }, token => $M);
is($r->{status}, 200, '100 ids: 200');
err_like($s->api(PATCH => '/api/assets', { ids => \@many, tags_add => ['x'] }, token => $M), 400, qr/^ids:/,
         '101 ids: 400');
err_like($s->api(PATCH => '/api/assets', { ids => [], tags_add => ['x'] }, token => $M), 400, qr/^ids:/, 'no ids');
err_like($s->api(PATCH => '/api/assets', { ids => ['x'], tags_add => ['x'] }, token => $M), 400, qr/^ids:/,
         'an id that is no UUID');
err_like($s->api(PATCH => '/api/assets', { ids => [$in2->{id}, $in2->{id}], tags_add => ['x'] }, token => $M),
         400, qr/^ids:/, 'an id twice');
err_like($s->api(PATCH => '/api/assets', { ids => [$in2->{id}] }, token => $M), 400, qr/required/, 'nothing to do');
err_like($s->api(PATCH => '/api/assets', { tags_add => ['x'] }, token => $M), 400, qr/^ids: required/, 'no ids at all');
err_like($s->api(PATCH => '/api/assets', { ids => [$in2->{id}], tags_add => [map { "t$_" } 1 .. 50] },
                 token => $M), 400, qr/at most 50/, 'more than 50 tags after adding');
is($s->api(PATCH => '/api/assets', { ids => [$theirs->{id}], tags_add => ['x'] }, token => $V)->{status}, 403,
   'a viewer: 403');
is($s->api(PATCH => '/api/assets', { ids => [$theirs->{id}], tags_add => ['x'] }, token => $A)->{status}, 200,
   'an admin: 200');

# --- delete ------------------------------------------------------------------

is($s->api(DELETE => "/api/fields/$f{rating}{id}", undef, token => $E)->{status}, 403, 'an editor deletes: 403');
is($s->api(DELETE => "/api/fields/$f{rating}{id}", undef, token => $O)->{status}, 404, 'a non-member: 404');
is($s->api(DELETE => "/api/fields/$f{rating}{id}", undef, token => $M)->{status}, 204, 'a manager deletes: 204');
is($s->psql("SELECT count(*) FROM assets WHERE project_id = '$P' AND fields ? 'rating'"), "0\n",
   'its values are gone from the assets');
$r = $s->api(GET => "/api/assets/$a->{id}", undef, token => $E);
ok(!exists $r->{json}{asset}{fields}{rating}, '... and from the asset object');
is($s->psql("SELECT count(*) FROM assets WHERE project_id = '$P2' AND fields ? 'rating'"), "0\n",
   'another project\'s field of the same name is its own');

for my $action (qw(field_create field_update field_delete)) {
    is($s->psql("SELECT count(*) > 0 FROM audit_log WHERE action = '$action' AND details->>'project_id' = '$P'"),
       "t\n", "$action audited with the project");
}

$s->check_error_log;
done_testing;
