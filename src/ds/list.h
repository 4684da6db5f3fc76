/* list.h: intrusive doubly-linked lists with a sentinel head. The element embeds a ta_list_t
 * and the owner of the list owns the synchronisation. No allocation. */
#ifndef TA_LIST_H
#define TA_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "platform.h"

TA_EXTERN_C_BEGIN

typedef struct ta_list {
  struct ta_list *next, *prev;
} ta_list_t;

#define ta_list_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

TA_INLINE void ta_list_init(ta_list_t *head) { head->next = head->prev = head; }
TA_INLINE bool ta_list_is_empty(const ta_list_t *head) { return head->next == head; }
/* An element not on any list has next == NULL (callers initialise it so). */
TA_INLINE bool ta_list_is_linked(const ta_list_t *node) { return node->next != NULL; }

TA_INLINE void ta_list_push_front(ta_list_t *head, ta_list_t *node) {
  node->next = head->next;
  node->prev = head;
  head->next->prev = node;
  head->next = node;
}
TA_INLINE void ta_list_push_back(ta_list_t *head, ta_list_t *node) {
  node->prev = head->prev;
  node->next = head;
  head->prev->next = node;
  head->prev = node;
}
TA_INLINE void ta_list_remove(ta_list_t *node) {
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->next = node->prev = NULL;
}

TA_EXTERN_C_END

#endif
