-- Migration 0006: drops an index nothing reads since migration 0005 (the chat list reads chat_list).
-- chat_participants_by_project_activity (user_id, project_id, activity_at, chat_id) still cost a row
-- written per membership made: 1 of the 6 rows per new member of a new group (8 in a project).
-- chat_participants_by_activity stays: its leading user_id is how a profile change finds the user's
-- memberships (store::users::COPY_PROFILE_SQL).
--
-- The code before this migration does not read the index either (0005 moved the list to chat_list), so
-- a rollback to it is safe; older code would list a project's chats by scanning (README "Shipping a
-- schema change").
DROP INDEX IF EXISTS chat_participants_by_project_activity;
